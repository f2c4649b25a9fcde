// Encode throughput of one tokenizer on a corpus folder, on the calling thread. One process is
// one sample: load the tokenizer, encode every *.txt file once (the cold pass, timed alone, with
// whatever caches the tokenizer keeps still empty), then encode the whole corpus again `passes`
// times and report the steady rate. Prints one JSON line:
//   {"engine": "brisk", "tokenizer": ..., "bytes": ..., "tokens": ..., "cold_mb_s": ...,
//    "steady_mb_s": ...}
// Usage: brisk_tokenizer_bench TOKENIZER_JSON CORPUS_DIR NAME [PASSES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> ReadCorpus(const std::string& dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".txt") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> texts;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return texts;
}

// Encodes every text once; returns the number of ids (so the work cannot be optimized away).
size_t EncodeAll(const brisk::tokenizer::Tokenizer& tok, const std::vector<std::string>& texts) {
  size_t num_ids = 0;
  for (const std::string& text : texts) {
    num_ids += tok.Encode(text, brisk::tokenizer::AddSpecial::kNo).size();
  }
  return num_ids;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON CORPUS_DIR NAME [PASSES]\n", argv[0]);
    return 2;
  }
  const int passes = argc > 4 ? std::max(1, std::atoi(argv[4])) : 20;
  auto tok = brisk::tokenizer::Tokenizer::FromFile(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "error: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  const std::vector<std::string> texts = ReadCorpus(argv[2]);
  size_t num_bytes = 0;
  for (const std::string& t : texts) num_bytes += t.size();
  if (num_bytes == 0) {
    std::fprintf(stderr, "error: no *.txt files in %s\n", argv[2]);
    return 1;
  }
  Clock::time_point start = Clock::now();
  const size_t num_ids = EncodeAll(**tok, texts);
  const double cold_s = Seconds(start);
  start = Clock::now();
  size_t check = 0;
  for (int i = 0; i < passes; ++i) check += EncodeAll(**tok, texts);
  const double steady_s = Seconds(start);
  if (check != num_ids * static_cast<size_t>(passes)) {
    std::fprintf(stderr, "error: encoding is not deterministic\n");
    return 1;
  }
  std::printf(
      "{\"engine\": \"brisk\", \"tokenizer\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, "
      "\"cold_mb_s\": %.3f, \"steady_mb_s\": %.3f}\n",
      argv[3], num_bytes, num_ids, num_bytes / cold_s / 1e6,
      num_bytes * static_cast<double>(passes) / steady_s / 1e6);
  return 0;
}
