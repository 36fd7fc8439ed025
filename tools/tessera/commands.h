// The subcommands of `tessera`. Each takes the arguments after its name and returns the exit
// status; adding one is a new file plus an entry in main.cpp's table.
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

int generate_command(const std::vector<std::string>& args);
int chat_command(const std::vector<std::string>& args);
int train_command(const std::vector<std::string>& args);
int tokenizer_command(const std::vector<std::string>& args);
int convert_command(const std::vector<std::string>& args);
int cache_prompt_command(const std::vector<std::string>& args);

}  // namespace tessera::cli
