// Command-line flags for the tessera subcommands: `--name value`, `--name=value` and boolean
// `--name`, each declared with its help text so `--help` lists them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tessera::cli {

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}
  // Declares a flag taking a value (shown as `meta` in the help) or a switch.
  void option(const std::string& name, const std::string& meta, const std::string& help,
              const std::string& default_text = "");
  void flag(const std::string& name, const std::string& help);
  // A switch that may be followed by a boolean (mlx_lm's `--verbose False`): `--name`,
  // `--name=false`, `--name true`; true/false, t/f, yes/no, 1/0 in any case.
  void toggle(const std::string& name, const std::string& help, const std::string& default_text = "");

  // Parses argv; throws std::invalid_argument for unknown flags or missing values.
  void parse(const std::vector<std::string>& argv);
  bool help_requested() const { return help_; }
  std::string help() const;

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool on(const std::string& name) const { return has(name); }
  std::string str(const std::string& name, const std::string& fallback = "") const;
  int integer(const std::string& name, int fallback) const;
  double number(const std::string& name, double fallback) const;
  uint64_t uint(const std::string& name, uint64_t fallback) const;
  bool boolean(const std::string& name, bool fallback) const;
  // Every value given to an option that may repeat (`--stop a --stop b`), in order; str() gives
  // the last.
  std::vector<std::string> all(const std::string& name) const;

 private:
  struct Spec {
    std::string meta, help, default_text;
    bool takes_value;
    bool optional_bool = false;
  };
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> repeated_;
  bool help_ = false;
};

}  // namespace tessera::cli
