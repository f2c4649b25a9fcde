// Running node from a test: the command line is built from single-quoted words, stdout and
// stderr are captured together, and the JSON goes through a file in the test's temp folder.
#include "oracle_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace brisk::oracle {
namespace {

constexpr const char* kInstallHint =
    "run scripts/install-deps.sh (it installs node and the npm packages of tools/oracle)";

std::string ShellQuote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `command` through the shell; returns its exit code and output (stdout and stderr).
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace

std::string SourceDir() { return BRISK_SOURCE_DIR; }

absl::StatusOr<nlohmann::ordered_json> RunOracle(std::string_view script,
                                         const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  if (RunShell("command -v node").first != 0) {
    return absl::FailedPreconditionError(absl::StrCat("node is not installed: ", kInstallHint));
  }
  const fs::path oracle_dir = fs::path(SourceDir()) / "tools" / "oracle";
  if (!fs::is_directory(oracle_dir / "node_modules")) {
    return absl::FailedPreconditionError(
        absl::StrCat(oracle_dir.string(), "/node_modules is missing: ", kInstallHint));
  }
  const char* tmp = std::getenv("TMPDIR");
  const fs::path out_path =
      fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
      absl::StrFormat("brisk_oracle_%d_%s.json", static_cast<int>(getpid()),
                      std::string(script).substr(0, script.find('.')));
  std::string command = absl::StrCat("cd ", ShellQuote(SourceDir()), " && node ",
                                     ShellQuote((oracle_dir / script).string()));
  for (const std::string& arg : args) absl::StrAppend(&command, " ", ShellQuote(arg));
  absl::StrAppend(&command, " --out ", ShellQuote(out_path.string()));
  auto [code, output] = RunShell(command);
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat(std::string(script), " failed (exit ", code, "): ", output));
  }
  std::ifstream in(out_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::error_code ignored;
  fs::remove(out_path, ignored);
  nlohmann::ordered_json doc =
      nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(script), " wrote no valid JSON to ",
                                                   out_path.string()));
  }
  return doc;
}

std::string Printable(std::string_view text, size_t max_bytes) {
  size_t cut = std::min(max_bytes, text.size());
  while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  std::string out;
  for (char c : text.substr(0, cut)) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return absl::StrCat("\"", out, cut < text.size() ? "\"..." : "\"");
}

std::string IdsAround(const std::vector<int32_t>& ids, size_t center, size_t radius) {
  const size_t begin = center > radius ? center - radius : 0;
  const size_t end = std::min(ids.size(), center + radius + 1);
  std::string out = begin > 0 ? "[... " : "[";
  for (size_t i = begin; i < end; ++i) {
    absl::StrAppend(&out, i > begin ? ", " : "", ids[i]);
  }
  return absl::StrCat(out, end < ids.size() ? " ...]" : "]", " (", ids.size(), " ids)");
}

size_t FirstDifference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

size_t FirstDifference(std::string_view a, std::string_view b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                 : (lead >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || (len == 2 && lead < 0xC2) || i + len > text.size()) return false;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace brisk::oracle
