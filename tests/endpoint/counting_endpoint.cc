// SPDX-License-Identifier: Apache-2.0
// Test helper: an endpoint daemon (EndpointServer, as `overlay endpoint` runs
// it) that reports the content hashes its process has computed, so a test in
// another process can count what this node hashed.
//
//   overlay_counting_endpoint CONFIG NAME
// Prints "listening ADDRESS" once it serves; then, for each line "hashes" on
// stdin, prints ObjectKey::HashCount(). Stops when stdin closes.
#include <cstdio>
#include <iostream>
#include <string>

#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/object_key.h"

int main(int argc, char** argv) {
  using namespace overlay;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CONFIG NAME\n", argv[0]);
    return 2;
  }
  Result<PipelineSpec> spec = ParseConfigFile(argv[1]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 2;
  }
  Result<std::unique_ptr<EndpointServer>> server = EndpointServer::Create(*spec, argv[2]);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 2;
  }
  (*server)->Start();
  std::printf("listening %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    if (line != "hashes") continue;
    std::printf("%llu\n", static_cast<unsigned long long>(ObjectKey::HashCount()));
    std::fflush(stdout);
  }
  return 0;
}
