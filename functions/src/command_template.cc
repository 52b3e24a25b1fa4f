// SPDX-License-Identifier: Apache-2.0
#include "command_template.h"

#include "overlay/function.h"

namespace overlay::detail {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Result<CommandTemplate> CommandTemplate::Parse(std::string_view command) {
  CommandTemplate t;
  std::string word;
  bool in_word = false;  // distinguishes '' (an empty word) from no word
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (c == '\'' || c == '"') {
      size_t close = command.find(c, i + 1);
      if (close == std::string_view::npos)
        return Status::InvalidArgument(
            "command has an unterminated " + std::string(c == '"' ? "double" : "single") +
            " quote at column " + std::to_string(i + 1) + ": " + std::string(command));
      word.append(command.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
    } else if (IsSpace(c)) {
      if (in_word) t.words_.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) t.words_.push_back(std::move(word));
  if (t.words_.empty()) return Status::InvalidArgument("command is empty");
  return t;
}

std::vector<std::string> CommandTemplate::Expand(const PlaceholderValues& v) const {
  std::vector<std::string> argv;
  argv.reserve(words_.size());
  for (const std::string& w : words_) {
    std::string out;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] != '@' || i + 1 == w.size()) {
        out.push_back(w[i]);
        continue;
      }
      switch (w[i + 1]) {
        case 'W':
          out += v.workspace;
          break;
        case 'I':
          out += v.input;
          break;
        case 'D':
          out += v.out_dir;
          break;
        case 'N':
          out += v.name;
          break;
        case '@':
          out.push_back('@');
          break;
        default:
          out.push_back('@');
          continue;
      }
      ++i;
    }
    argv.push_back(std::move(out));
  }
  return argv;
}

}  // namespace overlay::detail

namespace overlay {

std::vector<std::string> CommandWords(std::string_view command) {
  Result<detail::CommandTemplate> t = detail::CommandTemplate::Parse(command);
  return t.ok() ? t->words() : std::vector<std::string>();
}

}  // namespace overlay
