// The tokenizer subcommands of the `brisk` binary: `tokenize` (text to ids), `detokenize` (ids
// to text) and `chat-template` (messages to the rendered prompt). They load only the tokenizer
// files of a folder, never model weights. Each returns the process exit code (0 ok, 1 a file or
// template could not be used, 2 bad command-line input) and prints one-line errors to stderr.
#pragma once

#include <string>

namespace brisk::cli {

struct TokenizeOptions {
  std::string tokenizer_dir;  // folder with tokenizer.json; empty: DefaultModelDir()
  std::string text;           // used when !use_text_file
  std::string text_file;      // read byte for byte when use_text_file
  bool use_text_file = false;
  bool add_special_tokens = false;  // let the post-processor add BOS/EOS
  bool json = false;                // print a JSON array instead of "1,2,3"
};
// Prints the ids of the text on one line.
int RunTokenize(const TokenizeOptions& options);

struct DetokenizeOptions {
  std::string tokenizer_dir;  // empty: DefaultModelDir()
  std::string ids;            // "1,2,3"
  bool skip_special_tokens = false;
};
// Prints the text of the ids followed by a newline. An id outside the vocabulary is an error.
int RunDetokenize(const DetokenizeOptions& options);

struct ChatTemplateOptions {
  std::string tokenizer_dir;  // folder with tokenizer_config.json; empty: DefaultModelDir()
  // JSON: [{role, content}, ...], or {"messages": [...], "tools": [...], other variables}.
  std::string messages_file;
  bool add_generation_prompt = false;
  std::string template_name;  // for configs with named templates; empty: "default"
};
// Prints the rendered prompt exactly (no newline is added).
int RunChatTemplate(const ChatTemplateOptions& options);

}  // namespace brisk::cli
