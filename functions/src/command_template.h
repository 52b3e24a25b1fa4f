// SPDX-License-Identifier: Apache-2.0
// A FUNCTION block's `command`: split into words once, placeholders expanded per
// task (internal to functions/).
//
// Words are separated by whitespace; '...' and "..." group characters into a
// word and may sit inside one (--name='a b'). Nothing else has a meaning: ; | >
// $() ` * \ are ordinary characters. In each word @W, @I, @D and @N expand to
// the workspace, the first input's path, the output directory and the first
// input's file name; @@ is a literal '@'; any other '@' stays as it is.
// Expansion never splits a word, so a path with spaces stays one argument.
#ifndef OVERLAY_FUNCTIONS_SRC_COMMAND_TEMPLATE_H_
#define OVERLAY_FUNCTIONS_SRC_COMMAND_TEMPLATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay::detail {

struct PlaceholderValues {
  std::string workspace;  // @W
  std::string input;      // @I
  std::string out_dir;    // @D
  std::string name;       // @N
};

// Thread-safety: immutable after Parse; Expand may run concurrently.
class CommandTemplate {
 public:
  // Fails on an unterminated quote or a command without words.
  static Result<CommandTemplate> Parse(std::string_view command);

  // The argv for one task.
  std::vector<std::string> Expand(const PlaceholderValues& values) const;
  // The words with quotes removed and placeholders unexpanded.
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
};

}  // namespace overlay::detail

#endif  // OVERLAY_FUNCTIONS_SRC_COMMAND_TEMPLATE_H_
