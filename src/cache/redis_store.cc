// RedisStore: a pool of blocking hiredis contexts under one mutex. Every call computes one
// deadline on the steady clock; waiting for a connection, connecting and the socket timeout of the
// command are all cut to what is left of it. A broken context is freed, never reused; the
// circuit (consecutive_failures_, retry_after_ms_) keeps a dead server from costing every call
// its full timeout.
#include "cache/redis_store.h"

#include <hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <utility>

#include "base/check.h"
#include "base/logging.h"
#include "cache/response_codec.h"

namespace brisk::cache {
namespace {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

timeval ToTimeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

void IgnoreSigpipeIfDefault() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

}  // namespace

// Owns one hiredis reply.
struct RedisStore::Reply {
  explicit Reply(redisReply* reply) : raw(reply) {}
  ~Reply() { freeReplyObject(raw); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  std::string_view str() const { return std::string_view(raw->str, raw->len); }

  redisReply* raw;
};

RedisStore::RedisStore(Options options)
    : options_(std::move(options)),
      now_ms_(options_.now_ms ? options_.now_ms : std::function<int64_t()>(SystemNowMs)),
      key_namespace_(options_.key_prefix + "brisk:cache:v1:") {
  BRISK_CHECK_GE(options_.pool_size, 1);
  BRISK_CHECK_GE(options_.connect_timeout_ms, 1);
  BRISK_CHECK_GE(options_.command_timeout_ms, 1);
  BRISK_CHECK_GE(options_.backoff_initial_ms, 0);
  BRISK_CHECK_GE(options_.backoff_max_ms, options_.backoff_initial_ms);
  IgnoreSigpipeIfDefault();
  BRISK_LOG(kInfo) << "redis cache store at " << options_.host << ":" << options_.port << " keys '"
                   << key_namespace_ << "...', pool " << options_.pool_size << ", connect timeout "
                   << options_.connect_timeout_ms << " ms, command timeout "
                   << options_.command_timeout_ms << " ms, backoff " << options_.backoff_initial_ms
                   << ".." << options_.backoff_max_ms << " ms";
}

RedisStore::~RedisStore() {
  std::lock_guard<std::mutex> lock(mu_);
  BRISK_CHECK_EQ(num_connections_, static_cast<int>(idle_.size()))
      << "RedisStore destroyed while a call is in progress";
  for (redisContext* context : idle_) redisFree(context);
}

std::string RedisStore::RedisKey(const CacheKey& key) const { return key_namespace_ + key.Hex(); }

void RedisStore::CountError(std::string_view what, std::string_view detail) {
  const int64_t count = errors_.fetch_add(1) + 1;
  if (std::has_single_bit(static_cast<uint64_t>(count))) {
    BRISK_LOG(kWarning) << "redis cache store " << options_.host << ":" << options_.port << ": "
                        << what << ": " << detail << " (" << count << " errors so far)";
  }
}

redisContext* RedisStore::Acquire(int64_t deadline_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::time_point(std::chrono::milliseconds(deadline_ms));
  while (idle_.empty() && num_connections_ >= options_.pool_size) {
    if (released_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        num_connections_ >= options_.pool_size) {
      lock.unlock();
      CountError("acquire", "no free connection before the deadline");
      return nullptr;
    }
  }
  if (!idle_.empty()) {
    redisContext* context = idle_.back();
    idle_.pop_back();
    return context;
  }
  ++num_connections_;  // reserve the slot, connect outside the lock
  lock.unlock();
  const int64_t remaining_ms = deadline_ms - SteadyNowMs();
  redisContext* context = nullptr;
  if (remaining_ms > 0) {
    context =
        redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                ToTimeval(std::min(options_.connect_timeout_ms, remaining_ms)));
  }
  if (context != nullptr && context->err == 0) return context;
  const std::string detail = context == nullptr ? "out of time or memory" : context->errstr;
  Discard(context, absl::StrCat("connect: ", detail));
  return nullptr;
}

void RedisStore::Release(redisContext* context) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(context);
    consecutive_failures_ = 0;
  }
  released_.notify_one();
}

void RedisStore::Discard(redisContext* context, std::string_view what) {
  CountError("call failed", what);
  std::vector<redisContext*> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
    num_connections_ -= 1 + static_cast<int>(dropped.size());
    ++consecutive_failures_;
    int64_t backoff_ms = options_.backoff_initial_ms;
    for (int i = 1; i < consecutive_failures_ && backoff_ms < options_.backoff_max_ms; ++i) {
      backoff_ms *= 2;
    }
    retry_after_ms_ = SteadyNowMs() + std::min(backoff_ms, options_.backoff_max_ms);
  }
  released_.notify_all();
  if (context != nullptr) redisFree(context);
  for (redisContext* idle : dropped) redisFree(idle);
}

int64_t RedisStore::CallDeadline() const { return SteadyNowMs() + options_.command_timeout_ms; }

std::unique_ptr<RedisStore::Reply> RedisStore::Command(const std::vector<std::string_view>& args,
                                                       int64_t deadline_ms, CircuitCheck circuit) {
  if (circuit == CircuitCheck::kRespect) {
    std::lock_guard<std::mutex> lock(mu_);
    if (SteadyNowMs() < retry_after_ms_) return nullptr;
  }
  redisContext* context = Acquire(deadline_ms);
  if (context == nullptr) return nullptr;
  const int64_t remaining_ms = deadline_ms - SteadyNowMs();
  if (remaining_ms <= 0 || redisSetTimeout(context, ToTimeval(remaining_ms)) != REDIS_OK) {
    Release(context);  // the connection is fine; this call is out of time
    CountError("command", "out of time before sending");
    return nullptr;
  }
  std::vector<const char*> argv;
  std::vector<size_t> argv_lengths;
  argv.reserve(args.size());
  argv_lengths.reserve(args.size());
  for (const std::string_view arg : args) {
    argv.push_back(arg.data());
    argv_lengths.push_back(arg.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), argv_lengths.data()));
  if (raw == nullptr || context->err != 0) {
    if (raw != nullptr) freeReplyObject(raw);
    Discard(context, absl::StrCat(std::string(args.front()), ": ", context->errstr));
    return nullptr;
  }
  Release(context);
  auto reply = std::make_unique<Reply>(raw);
  if (reply->raw->type == REDIS_REPLY_ERROR) {
    CountError(absl::StrCat(std::string(args.front()), " error reply"), reply->str());
    return nullptr;
  }
  return reply;
}

ExpiringValue RedisStore::Lookup(const CacheKey& key) {
  const int64_t deadline_ms = CallDeadline();
  const std::string redis_key = RedisKey(key);
  const std::unique_ptr<Reply> reply = Command({"GET", redis_key}, deadline_ms);
  if (reply == nullptr || reply->raw->type == REDIS_REPLY_NIL) {
    ++misses_;
    return {};
  }
  if (reply->raw->type != REDIS_REPLY_STRING) {
    CountError("GET", "unexpected reply type");
    ++misses_;
    return {};
  }
  absl::StatusOr<DecodedResponse> decoded = DecodeResponse(reply->str());
  if (!decoded.ok()) {
    CountError("decoding a record", decoded.status().ToString());
    ++misses_;
    return {};
  }
  const int64_t now_ms = now_ms_();
  if (decoded->expires_at_unix_ms != kNoExpiry && now_ms >= decoded->expires_at_unix_ms) {
    // Past the expiry written in the record, though Redis still holds it (the clocks of this
    // host and the server disagree): drop it, within what is left of this call's time.
    Command({"DEL", redis_key}, deadline_ms);
    ++expired_;
    ++misses_;
    return {};
  }
  ++hits_;
  const int64_t ttl_remaining_ms =
      decoded->expires_at_unix_ms == kNoExpiry ? kNoExpiry : decoded->expires_at_unix_ms - now_ms;
  return {.value = std::make_shared<const CachedResponse>(std::move(decoded->value)),
          .ttl_remaining_ms = ttl_remaining_ms};
}

bool RedisStore::Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
                     int64_t ttl_ms) {
  BRISK_CHECK(value != nullptr) << "RedisStore::Put of a null value";
  BRISK_CHECK_GE(ttl_ms, 0) << "RedisStore::Put with a negative TTL";
  const int64_t deadline_ms = CallDeadline();
  const absl::StatusOr<std::string> record =
      EncodeResponse(*value, RecordExpiry(now_ms_(), ttl_ms));
  if (!record.ok() || static_cast<int64_t>(record->size()) > options_.max_record_bytes) {
    ++rejected_;
    return false;
  }
  const std::string redis_key = RedisKey(key);
  const std::string ttl_text = std::to_string(ttl_ms);
  std::vector<std::string_view> args = {"SET", redis_key, *record};
  if (ttl_ms != kNoExpiry) {
    args.push_back("PX");
    args.push_back(ttl_text);
  }
  const std::unique_ptr<Reply> reply = Command(args, deadline_ms);
  if (reply == nullptr) return false;
  if (reply->raw->type != REDIS_REPLY_STATUS || reply->str() != "OK") {
    CountError("SET", "unexpected reply");
    return false;
  }
  ++inserts_;
  return true;
}

bool RedisStore::Erase(const CacheKey& key) {
  const std::unique_ptr<Reply> reply = Command({"DEL", RedisKey(key)}, CallDeadline());
  if (reply == nullptr || reply->raw->type != REDIS_REPLY_INTEGER) return false;
  if (reply->raw->integer <= 0) return false;
  ++erases_;
  return true;
}

StoreStats RedisStore::Stats() const {
  StoreStats stats;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.expired = expired_.load();
  stats.inserts = inserts_.load();
  stats.rejected = rejected_.load();
  stats.erases = erases_.load();
  stats.entries = -1;
  stats.bytes = -1;
  stats.capacity_bytes = -1;
  return stats;
}

absl::Status RedisStore::Ping() {
  const std::unique_ptr<Reply> reply = Command({"PING"}, CallDeadline(), CircuitCheck::kBypass);
  if (reply != nullptr && reply->raw->type == REDIS_REPLY_STATUS && reply->str() == "PONG") {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("redis at ", options_.host, ":", options_.port,
                                             " did not answer PING within ",
                                             options_.command_timeout_ms, " ms"));
}

}  // namespace brisk::cache
