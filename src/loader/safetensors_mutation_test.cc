// Robustness: random corruptions of a real checkpoint (flipped bytes anywhere, including the
// header, and truncations) must each be refused with a Status or load consistently; nothing may
// crash, hang or read outside the file. Run under the asan-ubsan preset this also catches
// out-of-bounds reads.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "loader/safetensors.h"

namespace brisk::loader {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SafetensorsMutationTest, CorruptFilesAreRefusedOrReadWithinBounds) {
  const fs::path source = fs::path(BRISK_SOURCE_DIR) /
                          "tests/fixtures/golden/llama-mha-f32-tied-legacy-rope/model.safetensors";
  const std::string original = ReadAll(source);
  ASSERT_GT(original.size(), 1000u);
  uint64_t header_len = 0;
  std::memcpy(&header_len, original.data(), 8);
  const fs::path path = fs::temp_directory_path() / "brisk_safetensors_mutation.safetensors";
  std::mt19937_64 rng(12345);
  int refused = 0, opened = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string bytes = original;
    switch (trial % 3) {
      case 0:  // flip bytes in the 8-byte length or the JSON header
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
          bytes[rng() % (8 + header_len)] ^= static_cast<char>(1 + rng() % 255);
        }
        break;
      case 1:  // replace one header byte with a JSON-significant character
        bytes[8 + rng() % header_len] = "{}[]\",:0123456789-e"[rng() % 19];
        break;
      case 2:  // truncate anywhere
        bytes.resize(rng() % bytes.size());
        break;
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
    auto file = SafetensorsFile::Open(path.string());
    if (!file.ok()) {
      ++refused;
      EXPECT_NE(std::string(file.status().message()).find(path.string()), std::string::npos)
          << "error does not name the file: " << file.status();
      continue;
    }
    ++opened;
    // Whatever opened must be readable in full without leaving the mapping.
    for (const std::string& name : file->TensorNames()) {
      auto t = file->Get(name);
      ASSERT_TRUE(t.ok()) << t.status();
      const auto* p = static_cast<const unsigned char*>(t->raw());
      volatile unsigned sum = 0;
      for (int64_t i = 0; i < t->size_bytes(); ++i) sum = sum + p[i];
    }
  }
  fs::remove(path);
  EXPECT_GT(refused, 500);  // most corruptions are detectable
  RecordProperty("refused", refused);
  RecordProperty("opened", opened);
}

}  // namespace
}  // namespace brisk::loader
