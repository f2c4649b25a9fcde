// `brisk bench serve`: measures a running OpenAI-compatible server over HTTP with streaming
// /v1/completions requests (see bench/serve/load_generator.h) and prints a throughput and
// latency table. Exit codes: 0 every request succeeded, 1 some request failed or the server
// could not be reached (the first error is printed), 2 bad command-line input.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace brisk::cli {

// Registers the `serve` subcommand, with its flags and --help text, under `bench` (an existing
// `bench` subcommand app), and a callback that runs the benchmark when it is parsed. A nonzero
// exit code leaves the callback as CLI::RuntimeError(code), which CLI11_PARSE in main() turns
// into main's return value without printing anything more.
// REQUIRES: bench != nullptr; it outlives parsing.
void AddBenchServeCommand(CLI::App* bench);

}  // namespace brisk::cli
