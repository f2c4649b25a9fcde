// Helpers shared by the cache store tests (test-only, header-only): a hand-moved clock, value
// builders, value comparison, and a temporary directory removed when it goes out of scope.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/cache_key.h"
#include "cache/cache_store.h"

namespace brisk::cache::testing_util {

inline CacheKey KeyNumber(int i) { return Sha256Key("store-test-key-" + std::to_string(i)); }

// A clock the test moves by hand; copies share the time.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now;
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000)
      : now(std::make_shared<std::atomic<int64_t>>(start_ms)) {}
  std::function<int64_t()> fn() const {
    return [now = now] { return now->load(); };
  }
  void Advance(int64_t ms) { now->fetch_add(ms); }
};

// A response whose every field depends on `tag`, with `body_bytes` of body and a few events.
inline std::shared_ptr<const CachedResponse> MakeResponse(const std::string& tag, size_t body_bytes,
                                                          int num_events) {
  auto response = std::make_shared<CachedResponse>();
  response->body_json = tag;
  while (response->body_json.size() < body_bytes) response->body_json += "|" + tag;
  response->body_json.resize(std::max(body_bytes, tag.size()));
  for (int i = 0; i < num_events; ++i)
    response->sse_events.push_back(tag + "#" + std::to_string(i));
  response->prompt_tokens = static_cast<int>(tag.size());
  response->completion_tokens = num_events;
  response->created_ms = 1'700'000'000'000 + static_cast<int64_t>(body_bytes);
  response->compute_time_us = 1000 + num_events;
  return response;
}

// A response with a random size drawn from `rng`, tagged so it can be told apart.
inline std::shared_ptr<const CachedResponse> RandomResponse(std::mt19937_64& rng,
                                                            const std::string& tag,
                                                            size_t max_body_bytes) {
  return MakeResponse(tag, rng() % (max_body_bytes + 1), static_cast<int>(rng() % 4));
}

inline bool SameResponse(const CachedResponse& a, const CachedResponse& b) {
  return a.body_json == b.body_json && a.sse_events == b.sse_events &&
         a.prompt_tokens == b.prompt_tokens && a.completion_tokens == b.completion_tokens &&
         a.created_ms == b.created_ms && a.compute_time_us == b.compute_time_us;
}

// A fresh directory under the test's temporary directory, removed on destruction.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& name) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string unique = name;
    if (info != nullptr) unique += std::string("-") + info->test_suite_name() + "-" + info->name();
    for (char& c : unique) {
      if (c == '/') c = '_';
    }
    path_ =
        std::filesystem::path(::testing::TempDir()) / (unique + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace brisk::cache::testing_util
