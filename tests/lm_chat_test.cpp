// Chat templates in generation: the template a model ships (directory files, GGUF metadata), the
// rendered prompt encoded as mlx-lm encodes it (special tokens as their ids, BOS never doubled),
// `tessera generate` with and without the template, and the chat session and `tessera chat`
// keeping the history and the KV cache between turns. stories260K (shared/data) converted to a
// Hugging Face directory with a small template is the model; the reference renders of
// shared/data/tokenizers give the ids of real templates.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lm/models/model_chat_template.h"
#include "tessera/gguf.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/chat_template.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/lm/tokenizer.h"
#include "testing/lm_fixtures.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace tessera;
namespace stories = tessera::testing::stories260k;
using lm::ChatJson;

namespace {

const fs::path kTokenizers = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "tokenizers";
const fs::path kBinary = fs::path(TESSERA_BINARY_DIR) / "tools" / "tessera" / "tessera";

#define REQUIRE_STORIES()                                                                                 \
  if (!fs::exists(stories::gguf_path())) {                                                                \
    GTEST_SKIP() << "stories260K is not available at " << stories::gguf_path() << " (shared/data absent)"; \
  }

using tessera::testing::error_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct QuietLog {
  QuietLog() { gguf::set_log_handler([](const std::string&) {}); }
  ~QuietLog() { gguf::set_log_handler(nullptr); }
};

// A turn-based template in plain text around stories260K's <s> and </s>. The reply follows "Bot:"
// directly, so a reply's text (which keeps its leading space) renders back as the tokens that
// produced it; `shout` is a variable from --chat-template-config.
const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}[SYS] {{ m.content }}\n"
    "{% elif m.role == 'user' %}User: {{ m.content }}\n"
    "{% else %}Bot:{{ m.content }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}Bot:{% endif %}{% if shout %}!{% endif %}";

// stories260K as a Hugging Face directory with kTemplate, written once for the whole run.
const fs::path& chat_model_dir() {
  static stories::TempDir dir("tessera-chat-test");
  static bool written = [] {
    stories::DirOptions o;
    json config = stories::tokenizer_config_json();
    config["chat_template"] = kTemplate;
    o.tokenizer_config = config;
    stories::write_dir(dir.path, stories::hf_tensors(), o);
    return true;
  }();
  (void)written;
  return dir.path;
}

const lm::LoadedModel& chat_model() {
  static lm::LoadedModel m = [] {
    QuietLog quiet;
    return lm::load_model(chat_model_dir().string());
  }();
  return m;
}

std::vector<int> greedy(const lm::LoadedModel& m, const std::vector<int>& prompt, int max_tokens) {
  lm::GenerateOptions o;
  o.max_tokens = max_tokens;
  return lm::generate_tokens(*m.model, m.tokenizer.get(), prompt, o).tokens;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ------------------------------------------------------------------ running the CLI

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun run_cli(const std::vector<std::string>& args, const std::string& input = "") {
  stories::TempDir io("tessera-chat-cli");
  stories::write_text(io.path / "in", input);
  std::string cmd = quote(kBinary.string());
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " < " + quote((io.path / "in").string()) + " 2> " + quote((io.path / "err").string());
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(io.path / "err");
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

// The binary is built by the tessera_cli target; a tree without it, or with one older than the
// chat command, skips the CLI tests.
#define REQUIRE_CLI()                                                                                \
  REQUIRE_STORIES();                                                                                 \
  if (!fs::exists(kBinary)) GTEST_SKIP() << "the tessera binary is not built at " << kBinary;        \
  if (run_cli({"chat", "--help"}).status != 0)                                                       \
    GTEST_SKIP() << kBinary << " has no chat command (built before it; rebuild the tessera_cli target)";

}  // namespace

// ------------------------------------------------------------------ encoding rendered prompts

// A reference render of a real template, encoded as a rendered prompt is, gives the reference
// ids: special tokens written in the text are their ids and BOS comes once. DeepSeek V3's
// tokenizer adds BOS itself (add_bos_token) and its template prints it, so it is the case where
// BOS could double. (The renders themselves are chat_template_test's; loading the larger Llama 3
// vocabulary as well would double this test's time for a case without that risk.)
TEST(ChatPromptIds, ReferenceRenderEncodesToTheReferenceIds) {
  if (!fs::exists(kTokenizers / "reference")) GTEST_SKIP() << "tokenizer data not found at " << kTokenizers;
  std::ifstream f(kTokenizers / "reference" / "chat_deepseek_v3.json");
  const ChatJson ref = ChatJson::parse(f);
  auto tokenizer = lm::as_text_tokenizer(lm::Tokenizer::from_directory((kTokenizers / "deepseek_v3").string()));
  auto source = lm::directory_chat_template(kTokenizers / "deepseek_v3");
  ASSERT_TRUE(source);
  lm::ChatTemplateOptions options;
  options.add_generation_prompt = ref["add_generation_prompt"].get<bool>();
  lm::ChatPrompt p = lm::chat_prompt(*source, *tokenizer, ref["messages"], options);
  EXPECT_EQ(p.text, ref["rendered"].get<std::string>());
  EXPECT_EQ(p.ids, ref["ids"].get<std::vector<int>>());
  // Encoded with the tokenizer's own special tokens, the same text would start with two BOS.
  EXPECT_EQ(tokenizer->encode(p.text, true), concat({p.ids[0]}, p.ids));
}

// ------------------------------------------------------------------ finding the template

TEST(ModelChatTemplate, DirectoryFilesInTransformersOrder) {
  stories::TempDir dir("tessera-chat-template-files");
  EXPECT_EQ(lm::directory_chat_template(dir.path), nullptr);

  json config = {{"bos_token", "<s>"}, {"eos_token", {{"content", "</s>"}, {"special", true}}}};
  stories::write_text(dir.path / "tokenizer_config.json", config.dump());
  EXPECT_EQ(lm::directory_chat_template(dir.path), nullptr);

  // A processor's chat_template.json counts when nothing else gives one.
  stories::write_text(dir.path / "chat_template.json", json{{"chat_template", "processor {{ bos_token }}"}}.dump());
  auto t = lm::directory_chat_template(dir.path);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->source, "processor {{ bos_token }}");
  EXPECT_EQ(t->name, "chat_template.json");
  EXPECT_EQ(t->bos_token, "<s>");
  EXPECT_EQ(t->eos_token, "</s>");

  // tokenizer_config.json's own template: a string, or named templates ("default").
  config["chat_template"] = json::array({{{"name", "tool_use"}, {"template", "tools"}}, {{"name", "default"}, {"template", "plain"}}});
  stories::write_text(dir.path / "tokenizer_config.json", config.dump());
  t = lm::directory_chat_template(dir.path);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->source, "plain");
  EXPECT_EQ(t->name, "default");

  // chat_template.jinja wins over the config, and takes the config's special tokens.
  stories::write_text(dir.path / "chat_template.jinja", "jinja {{ eos_token }}");
  t = lm::directory_chat_template(dir.path);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->source, "jinja {{ eos_token }}");
  EXPECT_EQ(t->name, "chat_template.jinja");
  EXPECT_EQ(t->eos_token, "</s>");
  EXPECT_EQ(lm::apply_chat_template(*t, ChatJson::array()), "jinja </s>");
}

TEST(ModelChatTemplate, MalformedEntriesNameTheFile) {
  stories::TempDir dir("tessera-chat-template-bad");
  stories::write_text(dir.path / "tokenizer_config.json", json{{"chat_template", 42}}.dump());
  std::string err = error_of([&] { lm::directory_chat_template(dir.path); });
  EXPECT_TRUE(contains(err, "tokenizer_config.json")) << err;
  EXPECT_TRUE(contains(err, "chat_template must be a string")) << err;

  stories::write_text(dir.path / "tokenizer_config.json", json{{"chat_template", json::array({{{"name", "tool_use"}, {"template", "t"}}})}}.dump());
  err = error_of([&] { lm::directory_chat_template(dir.path); });
  EXPECT_TRUE(contains(err, "no chat template named 'default'")) << err;

  stories::write_text(dir.path / "tokenizer_config.json", "{\"chat_template\": ");
  err = error_of([&] { lm::directory_chat_template(dir.path); });
  EXPECT_TRUE(contains(err, "tokenizer_config.json")) << err;

  stories::write_text(dir.path / "tokenizer_config.json", "{}");
  stories::write_text(dir.path / "chat_template.json", "[\"not an object\"]");
  err = error_of([&] { lm::directory_chat_template(dir.path); });
  EXPECT_TRUE(contains(err, "chat_template.json")) << err;
}

TEST(ModelChatTemplate, LoadedWithTheModel) {
  REQUIRE_STORIES();
  const lm::LoadedModel& m = chat_model();
  ASSERT_TRUE(m.chat_template);
  EXPECT_EQ(m.chat_template->source, kTemplate);
  EXPECT_EQ(m.chat_template->bos_token, "<s>");
  EXPECT_EQ(m.chat_template->eos_token, "</s>");

  // stories260K's GGUF has none; the same file with tokenizer.chat_template has one, with BOS
  // and EOS spelled by its vocabulary.
  QuietLog quiet;
  EXPECT_EQ(lm::load_model(stories::gguf_path().string()).chat_template, nullptr);
  stories::TempDir dir("tessera-chat-gguf");
  gguf::Reader r(stories::gguf_path().string());
  std::vector<std::pair<std::string, gguf::Value>> meta;
  for (const auto& kv : r.metadata())
    if (kv.first != "general.alignment") meta.push_back(kv);
  meta.emplace_back("tokenizer.chat_template", gguf::Value(kTemplate));
  std::vector<gguf::WriteTensor> tensors;
  for (const auto& t : r.tensors()) tensors.push_back({t.name, r.load(t.name), gguf::TensorType::f32});
  const fs::path file = dir.path / "chat.gguf";
  gguf::save(file.string(), meta, tensors);
  lm::LoadedModel g = lm::load_model(file.string());
  ASSERT_TRUE(g.chat_template);
  EXPECT_EQ(g.chat_template->source, kTemplate);
  EXPECT_EQ(g.chat_template->name, "tokenizer.chat_template");
  EXPECT_EQ(g.chat_template->bos_token, "<s>");
  EXPECT_EQ(g.chat_template->eos_token, "</s>");

  // Its vocabulary reads the rendered <s> as BOS and adds no second one.
  ChatJson messages = ChatJson::array({{{"role", "user"}, {"content", "Hello"}}});
  lm::ChatPrompt p = lm::chat_prompt(*g.chat_template, *g.tokenizer, messages, {true});
  EXPECT_EQ(p.text, "<s>User: Hello\nBot:");
  ASSERT_GE(p.ids.size(), 2u);
  EXPECT_EQ(p.ids[0], 1);
  EXPECT_NE(p.ids[1], 1);
  EXPECT_EQ(p.ids, g.tokenizer->encode(p.text, false));

  // A wrong type is named.
  meta.back().second = gguf::Value(int32_t(7));
  gguf::save(file.string(), meta, tensors);
  std::string err = error_of([&] { lm::load_model(file.string()); });
  EXPECT_TRUE(contains(err, "tokenizer.chat_template")) << err;
}

// ------------------------------------------------------------------ prompts of generate

TEST(ChatGenerate, RenderedPromptIsEncodedWithOneBos) {
  REQUIRE_STORIES();
  const lm::LoadedModel& m = chat_model();
  ChatJson messages = ChatJson::array({{{"role", "user"}, {"content", "Hello"}}});
  lm::ChatTemplateOptions options;
  options.add_generation_prompt = true;
  lm::ChatPrompt p = lm::chat_prompt(*m.chat_template, *m.tokenizer, messages, options);
  EXPECT_EQ(p.text, "<s>User: Hello\nBot:");
  // <s> written by the template is BOS itself; the rest is encoded as plain text.
  EXPECT_EQ(p.ids, concat({1}, m.tokenizer->encode("User: Hello\nBot:", false)));
  // A prompt without the template gets its BOS from the tokenizer.
  EXPECT_EQ(lm::encode_prompt(*m.tokenizer, "Hello"), m.tokenizer->encode("Hello", true));
  EXPECT_EQ(lm::encode_prompt(*m.tokenizer, "Hello")[0], 1);

  // A template given as text gets the model's special tokens.
  lm::ChatTemplateSource custom = lm::custom_chat_template("{{ bos_token }}Q: {{ messages[0].content }}{{ eos_token }}", m);
  EXPECT_EQ(lm::apply_chat_template(custom, messages), "<s>Q: Hello</s>");
}

TEST(ChatGenerate, CliAppliesTheTemplateUnlessIgnored) {
  REQUIRE_CLI();
  const lm::LoadedModel& m = chat_model();
  const std::string dir = chat_model_dir().string();
  const std::vector<int> chat_ids = concat({1}, m.tokenizer->encode("User: Hello\nBot:", false));
  const std::vector<int> raw_ids = m.tokenizer->encode("Hello", true);

  CliRun r = run_cli({"generate", "--model", dir, "--prompt", "Hello", "--max-tokens", "12", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["prompt_text"], "<s>User: Hello\nBot:");
  EXPECT_EQ(out["stats"]["prompt_tokens"].get<size_t>(), chat_ids.size());
  // The tokens the model produced are those of the template's ids.
  EXPECT_EQ(out["tokens"].get<std::vector<int>>(), greedy(m, chat_ids, 12));

  r = run_cli({"generate", "--model", dir, "--prompt", "Hello", "--max-tokens", "12", "--json", "--ignore-chat-template"});
  ASSERT_EQ(r.status, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["prompt_text"], "Hello");
  EXPECT_EQ(out["stats"]["prompt_tokens"].get<size_t>(), raw_ids.size());
  EXPECT_EQ(out["tokens"].get<std::vector<int>>(), greedy(m, raw_ids, 12));

  // System prompt, template variables, a template from the command line, stop strings.
  r = run_cli({"generate", "--model", dir, "--prompt", "Hi", "--system-prompt", "Be kind", "--chat-template-config",
               "{\"shout\": true}", "--max-tokens", "1", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_text"], "<s>[SYS] Be kind\nUser: Hi\nBot:!");
  r = run_cli({"generate", "--model", dir, "--prompt", "Hi", "--chat-template", "{{ bos_token }}<<{{ messages[0].content }}>>",
               "--max-tokens", "1", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_text"], "<s><<Hi>>");

  r = run_cli({"generate", "--model", dir, "--prompt", "Once upon a time", "--ignore-chat-template", "--max-tokens", "40",
               "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string full = json::parse(r.out)["text"];
  ASSERT_GT(full.size(), 12u);
  const std::string stop = full.substr(8, 4);
  r = run_cli({"generate", "--model", dir, "--prompt", "Once upon a time", "--ignore-chat-template", "--max-tokens", "40",
               "--json", "--stop", "no such text", "--stop", stop});
  ASSERT_EQ(r.status, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["text"], full.substr(0, full.find(stop)));
  EXPECT_EQ(out["stats"]["finish_reason"], "stop");

  // --verbose false prints the text alone; bad template variables are refused.
  r = run_cli({"generate", "--model", dir, "--prompt", "Hi", "--max-tokens", "3", "--verbose", "false"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(contains(r.err, "Generation:")) << r.err;
  r = run_cli({"generate", "--model", dir, "--prompt", "Hi", "--chat-template-config", "[1]"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "--chat-template-config must be a JSON object")) << r.err;
}

// ------------------------------------------------------------------ the chat session

// Each turn's reply must be what a fresh generation from the whole rendered conversation gives:
// the cache may only save work, never change the result.
TEST(ChatSession, KeepsHistoryAndReusesTheCache) {
  REQUIRE_STORIES();
  const lm::LoadedModel& m = chat_model();
  lm::ChatSessionOptions o;
  o.generate.max_tokens = 10;
  lm::ChatSession chat(m, o);

  lm::ChatReply first = chat.send("Hello");
  EXPECT_EQ(first.prompt.text, "<s>User: Hello\nBot:");
  EXPECT_EQ(first.reused_tokens, 0);
  EXPECT_EQ(first.generation.tokens, greedy(m, first.prompt.ids, 10));

  lm::ChatReply second = chat.send("Tell me more");
  EXPECT_EQ(second.prompt.text,
            "<s>User: Hello\nBot:" + first.generation.text + "</s>\nUser: Tell me more\nBot:");
  // The first turn's prompt and reply are still in the cache: only the rest is processed.
  EXPECT_GE(second.reused_tokens, int(first.prompt.ids.size()));
  EXPECT_EQ(second.generation.stats.prompt_tokens, int(second.prompt.ids.size()) - second.reused_tokens);
  EXPECT_EQ(second.generation.tokens, greedy(m, second.prompt.ids, 10));
  EXPECT_EQ(chat.messages().size(), 4u);

  // A system prompt changes the start of the conversation: little is reused, nothing is wrong.
  chat.set_system_prompt("Be kind");
  lm::ChatReply third = chat.send("Bye");
  EXPECT_EQ(third.prompt.text.rfind("<s>[SYS] Be kind\nUser: Hello\n", 0), 0u) << third.prompt.text;
  EXPECT_LT(third.reused_tokens, int(first.prompt.ids.size()));
  EXPECT_EQ(third.generation.tokens, greedy(m, third.prompt.ids, 10));

  chat.reset();
  EXPECT_EQ(chat.messages().size(), 1u);  // the system prompt stays
  EXPECT_TRUE(chat.cached_ids().empty());
  chat.set_system_prompt(std::nullopt);
  lm::ChatReply again = chat.send("Hello");
  EXPECT_EQ(again.prompt.ids, first.prompt.ids);
  EXPECT_EQ(again.reused_tokens, 0);
  EXPECT_EQ(again.generation.tokens, first.generation.tokens);
}

// A template that renders earlier turns differently once the conversation grows (here: a turn
// count up front) shares only a short prefix with what the cache holds; the cache is cut back to
// it. A rotating cache that already dropped positions cannot be cut back and starts over.
TEST(ChatSession, DivergingHistoryTrimsOrRestartsTheCache) {
  REQUIRE_STORIES();
  const lm::LoadedModel& m = chat_model();
  lm::ChatSessionOptions o;
  o.generate.max_tokens = 6;
  o.chat_template = std::make_shared<lm::ChatTemplateSource>(lm::custom_chat_template(
      "{{ bos_token }}{{ messages | length }} turns\n{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}", m));
  lm::ChatSession chat(m, o);
  lm::ChatReply first = chat.send("Hello");
  lm::ChatReply second = chat.send("Again");
  EXPECT_GT(second.reused_tokens, 0);
  EXPECT_LT(second.reused_tokens, int(first.prompt.ids.size()));
  EXPECT_EQ(second.generation.tokens, greedy(m, second.prompt.ids, 6));

  o.generate.max_kv_size = 8;
  o.generate.rotate_kv = true;
  lm::ChatSession rotating(m, o);
  rotating.send("Hello there, how are you today?");
  lm::ChatReply r = rotating.send("Again");
  EXPECT_EQ(r.reused_tokens, 0);
  EXPECT_EQ(r.generation.stats.prompt_tokens, int(r.prompt.ids.size()));
}

TEST(ChatSession, ErrorsLeaveTheConversationAsItWas) {
  REQUIRE_STORIES();
  const lm::LoadedModel& m = chat_model();
  lm::ChatSessionOptions o;
  o.generate.max_tokens = 4;
  o.generate.max_kv_size = 40;  // no rotation: a longer conversation is an error
  lm::ChatSession chat(m, o);
  chat.send("Hi");
  const ChatJson before = chat.messages();
  std::string err = error_of([&] { chat.send(std::string(200, 'a')); });
  EXPECT_TRUE(contains(err, "context")) << err;
  EXPECT_EQ(chat.messages(), before);
  chat.reset();
  EXPECT_NO_THROW(chat.send("Hi"));

  lm::LoadedModel bare = m;
  bare.chat_template = nullptr;
  err = error_of([&] { lm::ChatSession s(bare); });
  EXPECT_TRUE(contains(err, "no chat template")) << err;
  lm::ChatSessionOptions broken;
  broken.chat_template = std::make_shared<lm::ChatTemplateSource>(lm::custom_chat_template("{% if %}", m));
  err = error_of([&] { lm::ChatSession s(m, broken); });
  EXPECT_TRUE(contains(err, "chat_template:1:")) << err;
}

// ------------------------------------------------------------------ tessera chat

TEST(ChatCli, PipedTurnsKeepHistoryUntilReset) {
  REQUIRE_CLI();
  const std::string dir = chat_model_dir().string();
  CliRun r = run_cli({"chat", "--model", dir, "--max-tokens", "8", "--json"},
                     "Hello\nTell me more\n/reset\nHello\n/system Be kind\nBye\n/exit\nnever read\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<json> replies = json_lines(r.out);
  ASSERT_EQ(replies.size(), 4u) << r.out;
  const json &first = replies[0], &second = replies[1], &after_reset = replies[2], &with_system = replies[3];
  EXPECT_EQ(first["prompt_text"], "<s>User: Hello\nBot:");
  EXPECT_EQ(first["reused_tokens"], 0);
  // The second turn's prompt holds the first turn, mostly taken from the cache.
  EXPECT_EQ(second["prompt_text"], "<s>User: Hello\nBot:" + first["text"].get<std::string>() + "</s>\nUser: Tell me more\nBot:");
  EXPECT_GE(second["reused_tokens"].get<int>(), first["prompt_tokens"].get<int>());
  // /reset forgets it: the same first turn again, the same reply.
  EXPECT_EQ(after_reset["prompt_text"], first["prompt_text"]);
  EXPECT_EQ(after_reset["reused_tokens"], 0);
  EXPECT_EQ(after_reset["tokens"], first["tokens"]);
  EXPECT_EQ(with_system["prompt_text"].get<std::string>().rfind("<s>[SYS] Be kind\nUser: Hello\nBot:", 0), 0u);

  // Without --json the replies stream, one line each; --verbose adds statistics on stderr.
  r = run_cli({"chat", "--model", dir, "--max-tokens", "8", "--verbose"}, "Hello\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, first["text"].get<std::string>() + "\n");
  EXPECT_TRUE(contains(r.err, "Prompt: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "tokens-per-sec")) << r.err;
}

TEST(ChatCli, HelpAndErrors) {
  REQUIRE_CLI();
  CliRun r = run_cli({"chat", "--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--model", "--max-tokens", "--temp", "--top-p", "--top-k", "--min-p", "--seed",
                           "--system-prompt", "--max-kv-size", "--json", "--verbose", "/reset", "/system", "/exit"})
    EXPECT_TRUE(contains(r.out, flag)) << flag;

  // A model without a template needs one given.
  r = run_cli({"chat", "--model", stories::gguf_path().string()}, "Hello\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "no chat template")) << r.err;
  r = run_cli({"chat", "--model", stories::gguf_path().string(), "--chat-template",
               "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", "--max-tokens", "4", "--json"},
              "Once upon a time\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0)["prompt_text"], "<s>Once upon a time");

  // A turn that fails reports the error and the chat goes on.
  r = run_cli({"chat", "--model", chat_model_dir().string(), "--max-tokens", "4", "--json", "--chat-template",
               "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}{{ messages[0].content }}"},
              "Hi\nHi again\n/reset\nHello\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<json> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(contains(lines[1]["error"].get<std::string>(), "one message only")) << lines[1];
  EXPECT_EQ(lines[2]["prompt_text"], "Hello");
}
