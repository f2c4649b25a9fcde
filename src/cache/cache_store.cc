// Helpers shared by the CacheStore implementations.
#include "cache/cache_store.h"

namespace brisk::cache {

int64_t PayloadBytes(const CachedResponse& response) {
  int64_t bytes = static_cast<int64_t>(response.body_json.size());
  for (const std::string& event : response.sse_events) bytes += static_cast<int64_t>(event.size());
  return bytes;
}

}  // namespace brisk::cache
