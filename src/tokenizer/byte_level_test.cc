// Tests for the GPT-2 byte-level alphabet.
#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include <set>

#include "tokenizer/test_util.h"

namespace brisk::tokenizer {
namespace {

TEST(ByteLevelTest, KnownCharacters) {
  EXPECT_EQ(ByteToChar(' '), U'\u0120');   // 'Ġ': the 33rd non-printable byte
  EXPECT_EQ(ByteToChar('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(ByteToChar(0x00), U'\u0100');
  EXPECT_EQ(ByteToChar(0x7F), U'\u0121');  // after the 33 bytes 0x00..0x20
  EXPECT_EQ(ByteToChar(0xA0), U'\u0142');
  EXPECT_EQ(ByteToChar(0xAD), U'\u0143');  // the last non-printable byte
  EXPECT_EQ(ByteToChar('A'), U'A');
  EXPECT_EQ(ByteToChar(0xE9), U'\u00E9');
  EXPECT_EQ(ByteToCharUtf8(' '), "\xC4\xA0");
}

TEST(ByteLevelTest, AllBytesRoundTripAndMatchTheDefinition) {
  std::set<char32_t> seen;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<uint8_t>(b);
    EXPECT_EQ(ByteToCharUtf8(byte), testing::GptChar(b)) << b;
    EXPECT_EQ(CharToByte(ByteToChar(byte)), byte) << b;
    seen.insert(ByteToChar(byte));
    all_bytes.push_back(static_cast<char>(byte));
  }
  EXPECT_EQ(seen.size(), 256u);
  std::string mapped;
  AppendByteLevel(all_bytes, mapped);
  std::string back;
  ASSERT_TRUE(AppendBytesFromByteLevel(mapped, back));
  EXPECT_EQ(back, all_bytes);
}

TEST(ByteLevelTest, CharactersOutsideTheAlphabetAreRejected) {
  EXPECT_FALSE(CharToByte(U' ').has_value());       // space itself is not in the alphabet
  EXPECT_FALSE(CharToByte(U'\u0144').has_value());  // one past the last mapped character
  std::string out = "keep";
  EXPECT_FALSE(AppendBytesFromByteLevel("a b", out));
  EXPECT_EQ(out, "keep");
}

}  // namespace
}  // namespace brisk::tokenizer
