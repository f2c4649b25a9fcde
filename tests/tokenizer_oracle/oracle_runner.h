// Runs the JavaScript oracles of tools/oracle/ (node scripts) and reads back their JSON, plus
// the small text helpers the oracle tests use to report a mismatch readably. The oracles need
// node and tools/oracle/node_modules, which scripts/install-deps.sh installs; when either is
// missing the error says so, and the tests fail on it rather than skipping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "nlohmann/json.hpp"

namespace brisk::oracle {

// The repository root the tests were built from.
std::string SourceDir();

// Runs `node tools/oracle/<script> <args...> --out <tmp file>` from the repository root and
// parses what it wrote, keeping the key order of every object (templates' tojson depends on
// it). Errors: FailedPrecondition naming scripts/install-deps.sh when node or
// the npm packages are missing; Internal with the script's output when it fails;
// InvalidArgument when its output is not JSON. Each argument is passed as one word.
absl::StatusOr<nlohmann::ordered_json> RunOracle(std::string_view script,
                                         const std::vector<std::string>& args);

// `text` with control characters, backslashes and quotes escaped, cut to `max_bytes` (at a
// character boundary) with "..." appended when longer: for failure messages.
std::string Printable(std::string_view text, size_t max_bytes = 240);

// Up to `radius` ids either side of `center`, as "[... 12, 345, 6 ...]".
std::string IdsAround(const std::vector<int32_t>& ids, size_t center, size_t radius = 6);

// The first index where `a` and `b` differ (min size when one is a prefix of the other).
size_t FirstDifference(const std::vector<int32_t>& a, const std::vector<int32_t>& b);
size_t FirstDifference(std::string_view a, std::string_view b);

// True when `text` is well-formed UTF-8 with nothing cut short at its end.
bool IsValidUtf8(std::string_view text);

}  // namespace brisk::oracle
