// SPDX-License-Identifier: Apache-2.0
// The config language: FUNCTION, ENDPOINT, STAGE (and STORAGE) blocks of
// `key = value` lines closed by [END]; '#' starts a comment line.
//
// Every error names file:line and, for an unknown name, the nearest valid one.
// All errors of a file are reported together, one per line, compiler style.
#ifndef OVERLAY_BASE_CONFIG_H_
#define OVERLAY_BASE_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "overlay/status.h"
#include "overlay/storage_options.h"

namespace overlay {

// Where a block or a key was written, for error messages.
struct SourceLoc {
  std::string file;
  int line = 0;
};

struct FunctionDecl {
  std::string name;
  std::string command;             // FUNCTION.command: an external command template
  std::string builtin;             // FUNCTION.builtin: a native function's name
  std::vector<std::string> args;   // FUNCTION.args: builtin arguments, whitespace-separated
  int64_t timeout_ms = 0;          // FUNCTION.timeout: "30s", "500ms", "2m"; 0 = none
  int retries = 0;                 // FUNCTION.retries: extra attempts, 0..100
  // FUNCTION.writable: folders, comma-separated, where a command may write
  // besides its workspace (Landlock); relative ones resolve against the
  // config's folder. Each must exist.
  std::vector<std::string> writable;
  SourceLoc loc;
  std::map<std::string, int> key_lines;
};

// Where `overlay up` starts an endpoint (docs/operations.md). Set by the
// ENDPOINT keys named beside each field; checked by ValidateSpec.
struct LaunchDecl {
  // ENDPOINT.launcher: "local" (a detached process on this machine), "ssh"
  // (OpenSSH to `host`) or "slurm" (a job step). Default: ssh when `host` is
  // set, else local.
  std::string launcher;
  std::string host;          // ENDPOINT.host: ssh destination, e.g. root@10.77.0.2
  // ENDPOINT.overlay_path: the overlay binary on the node. Default: this
  // binary (local), `overlay` on the node's PATH (ssh, slurm).
  std::string overlay_path;
  // Slurm options (launcher = slurm only), passed as srun/sbatch flags:
  std::string partition;   // ENDPOINT.partition: --partition
  std::string nodelist;    // ENDPOINT.nodelist: --nodelist
  std::string constraint;  // ENDPOINT.constraint: --constraint
  std::string time_limit;  // ENDPOINT.time_limit: --time, Slurm's format (e.g. 1:00:00)
  std::string account;     // ENDPOINT.account: --account
  // The launcher in effect, the default applied.
  std::string Effective() const { return !launcher.empty() ? launcher : host.empty() ? "local" : "ssh"; }
};

// The ENDPOINT keys of a LaunchDecl, and setting one from its text.
const std::vector<std::string>& LaunchKeys();
Status SetLaunchOption(LaunchDecl* launch, const std::string& key, const std::string& value);

struct EndpointDecl {
  std::string name;
  std::string id;                  // ENDPOINT.id: a UUID, normalized to lower case
  std::string address;             // ENDPOINT.address: empty = embedded in the client
  int workers = 0;                 // ENDPOINT.workers: 0 = one per core
  // ENDPOINT.curve_public: the endpoint's ZeroMQ CURVE public key (Z85, 40
  // characters). When set, clients encrypt and authenticate the endpoint, and
  // the endpoint refuses clients that lack this key. Default: plain text.
  std::string curve_public;
  // ENDPOINT.curve_secret_file: file holding the matching secret key; read only
  // by the endpoint itself, so the shared config carries no secret.
  std::string curve_secret_file;
  // ENDPOINT.clients_file: file of the CURVE public keys (Z85, one a line) of
  // the only clients the endpoint serves; read by the endpoint itself
  // (ReadClientKeys). Needs curve_public. Empty: any client that knows
  // curve_public is served.
  std::string clients_file;
  // ENDPOINT.fallback: another ENDPOINT (with an address, or without: the
  // client itself) that takes this endpoint's stages once nothing has been
  // heard from it for `fallback_after` while it has tasks; stateful streams
  // are rebuilt there by replaying their earlier items. Empty: none (tasks
  // wait for the endpoint to return, within their timeout and retries).
  std::string fallback;
  int64_t fallback_after_ms = 5000;  // ENDPOINT.fallback_after: a duration
  // ENDPOINT.lost_after: `overlay run` gives up on this endpoint once nothing
  // has been heard from it for this long while it had tasks (with no
  // fallback left): its items fail, naming it. Default: 30 s.
  int64_t lost_after_ms = 30000;
  // ENDPOINT.log: the endpoint daemon's log file. Default: empty, meaning
  // $XDG_STATE_HOME/overlay/<name>.log, or /var/log/overlay/<name>.log for
  // root, or ~/.local/state/overlay/<name>.log (see DefaultLogPath).
  std::string log;
  // ENDPOINT.metrics_address: HOST:PORT where the daemon serves Prometheus
  // metrics over HTTP (port 0: a free one). Default: empty, no metrics server.
  std::string metrics_address;
  // Per-client bounds of the endpoint daemon (a client is a CURVE key, else a
  // network address): live stream states (ENDPOINT.max_streams), tasks
  // accepted and not finished (max_tasks), bytes of their requests and pulled
  // inputs (max_memory). Over a bound, the Invoke is refused (Busy).
  int max_streams = 16384;
  int max_tasks = 4096;
  uint64_t max_memory = uint64_t{1} << 30;
  // ENDPOINT.stream_idle: stream state unused this long is dropped (rebuilt
  // by replay if the stream returns). Default: 10 minutes.
  int64_t stream_idle_ms = 600000;
  LaunchDecl launch;  // where `overlay up` starts it
  SourceLoc loc;
  std::map<std::string, int> key_lines;
};

struct StageDecl {
  std::string name;
  std::vector<std::string> sources;  // STAGE.source: comma-separated stages or directories
  std::string transformation;        // STAGE.transformation: a FUNCTION name
  std::string endpoint;              // STAGE.endpoint: an ENDPOINT name; empty = local
  std::string include = "*";         // STAGE.include: file-name globs for directory sources,
                                     // comma-separated (see IncludeMatches)
  SourceLoc loc;
  std::map<std::string, int> key_lines;
};

// True when the file name `name` matches one of the globs of a STAGE include:
// fnmatch patterns separated by commas, e.g. "signal.txt, *.ecg".
bool IncludeMatches(std::string_view include, const std::string& name);

// A [STORAGE] block: the node's data container settings.
struct StorageDecl {
  StorageOptions options;                     // defaults where the block is silent
  std::map<std::string, std::string> values;  // as written
  SourceLoc loc;
  std::map<std::string, int> key_lines;
};

// Name → position of its first declaration, looked up by string_view.
struct NameIndex {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> positions;
  size_t indexed = 0;  // how many declarations it covers
};

// A [CLIENT] block: the CURVE key pair of the client (`overlay run`), which it
// uses towards every CURVE endpoint and for its data server. Without one, a
// fresh pair is made per run (endpoints with a clients_file then refuse it).
struct ClientDecl {
  std::string curve_public;       // CLIENT.curve_public: Z85, 40 characters
  std::string curve_secret_file;  // CLIENT.curve_secret_file: read by the client only
  SourceLoc loc;
};

struct PipelineSpec {
  std::string path;      // the config file ("<text>" when parsed from a string)
  std::string base_dir;  // relative directory sources resolve against this
  std::vector<FunctionDecl> functions;
  std::vector<EndpointDecl> endpoints;
  std::vector<StageDecl> stages;
  StorageDecl storage;
  bool has_storage = false;
  ClientDecl client;  // empty fields: no [CLIENT] block

  // The first declaration of that name, or nullptr. O(1) through the
  // indexes the parser builds; a list that grew since IndexNames is scanned.
  // REQUIRES: after renaming a declaration, IndexNames is called again.
  const FunctionDecl* FindFunction(std::string_view name) const;
  const EndpointDecl* FindEndpoint(std::string_view name) const;
  const StageDecl* FindStage(std::string_view name) const;
  // Rebuilds the indexes behind the Find calls.
  void IndexNames();

  NameIndex function_index, endpoint_index, stage_index;
};

// Syntax only: blocks, keys, value formats. `base_dir` is where relative
// directory sources resolve (the config file's directory for files).
Result<PipelineSpec> ParseConfigText(std::string_view text, std::string_view file,
                                     std::string_view base_dir);
Result<PipelineSpec> ParseConfigFile(const std::string& path);

// Meaning: unique names, known functions/endpoints/sources, no cycles, existing
// source directories.
Status ValidateSpec(const PipelineSpec& spec);

// ParseConfigFile + ValidateSpec.
Result<PipelineSpec> LoadConfig(const std::string& path);

// The public keys in an ENDPOINT's clients_file: one Z85 key (40 characters)
// a line; blank lines and '#' comments are skipped. Errors name path:line; a
// file without keys is an error too (it would serve nobody by mistake).
Result<std::vector<std::string>> ReadClientKeys(const std::string& path);

// The keys each block accepts, for --help and "did you mean".
const std::vector<std::string>& BlockKeys(std::string_view block);

// "8-4-4-4-12" hex UUID, tolerating spaces around the hyphens; lower-cased.
// Empty on a malformed id.
std::string NormalizeUuid(std::string_view id);

}  // namespace overlay

#endif  // OVERLAY_BASE_CONFIG_H_
