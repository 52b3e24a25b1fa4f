// SPDX-License-Identifier: Apache-2.0
// The storage subcommands of the `overlay` CLI: put, get, stat, ls, rm, evict,
// pin, unpin. Each opens the node's data container from --config (its [STORAGE]
// block) and/or --segment/--disk/--cdn; put and pin, which store, also take the
// flags that shape new data (--memory, --policy; put also --write, --ttl). Only
// put and pin create a missing L1 segment; the others report that it does not exist.
// Names and keys are separate: 32 hex digits always address an object key, and
// put refuses such a string as a name.
#ifndef OVERLAY_CORE_CLI_STORAGE_COMMANDS_H_
#define OVERLAY_CORE_CLI_STORAGE_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace overlay {

// Registers the subcommands on `app`. When one runs, it stores its exit status
// in *exit_code (0 success, 1 failure; the reason is printed on stderr as
// "overlay <command>: <message>"). REQUIRES: `exit_code` outlives `app`.
void AddStorageCommands(CLI::App& app, int* exit_code);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_STORAGE_COMMANDS_H_
