// Tests of SafetensorsFile: value round trips per dtype, zero-copy lifetime, and every header
// corruption the reader must refuse with a message naming the file and the tensor.
#include "loader/safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/safetensors_test_writer.h"

namespace brisk::loader {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test_writer::BuildSafetensors;
using test_writer::BytesOf;
using test_writer::RawSafetensors;
using test_writer::ScopedTempDir;
using test_writer::TestTensor;
using test_writer::WriteFile;

class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes `contents` to a file in the temp dir and opens it.
  absl::StatusOr<SafetensorsFile> WriteAndOpen(const std::string& contents) {
    path_ = dir_.File("model.safetensors");
    WriteFile(path_, contents);
    return SafetensorsFile::Open(path_);
  }

  // Opens a file whose header is `header` followed by `data_bytes` zero bytes; expects
  // InvalidArgument and returns the message.
  std::string OpenError(const std::string& header, size_t data_bytes) {
    auto file = WriteAndOpen(RawSafetensors(header.size(), header, std::string(data_bytes, '\0')));
    EXPECT_FALSE(file.ok());
    if (file.ok()) return "";
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
    EXPECT_THAT(file.status().message(), HasSubstr(path_));
    return std::string(file.status().message());
  }

  ScopedTempDir dir_;
  std::string path_;
};

TEST_F(SafetensorsTest, F32ValuesRoundTrip) {
  const std::vector<float> values = {1.5f, -2.25f, 0.0f, 1e-3f, 3.0e7f, -0.125f};
  auto file = WriteAndOpen(BuildSafetensors({{"w", "F32", {2, 3}, BytesOf(values)}}));
  ASSERT_TRUE(file.ok()) << file.status();
  auto t = file->Get("w");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), tensor::DType::kF32);
  EXPECT_THAT(t->shape(), ElementsAre(2, 3));
  const float* p = t->data<float>();
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(p[i], values[i]) << "element " << i;
}

TEST_F(SafetensorsTest, BF16AndF16BitsAndValuesRoundTrip) {
  // Hand-encoded: bf16 0x3fc0 = 1.5, 0xc010 = -2.25, 0x4049 = 3.140625;
  // f16 0x3e00 = 1.5, 0xc080 = -2.25, 0x7bff = 65504 (largest finite half).
  const std::vector<uint16_t> bf16 = {0x3fc0, 0xc010, 0x4049};
  const std::vector<uint16_t> f16 = {0x3e00, 0xc080, 0x7bff};
  auto file = WriteAndOpen(BuildSafetensors(
      {{"a.bf16", "BF16", {3}, BytesOf(bf16)}, {"b.f16", "F16", {1, 3}, BytesOf(f16)}}));
  ASSERT_TRUE(file.ok()) << file.status();

  auto a = file->Get("a.bf16");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dtype(), tensor::DType::kBF16);
  EXPECT_THAT(a->shape(), ElementsAre(3));
  const uint16_t* ap = a->data<uint16_t>();
  EXPECT_THAT(std::vector<uint16_t>(ap, ap + 3), ElementsAre(0x3fc0, 0xc010, 0x4049));
  EXPECT_EQ(tensor::BF16ToF32(ap[0]), 1.5f);
  EXPECT_EQ(tensor::BF16ToF32(ap[1]), -2.25f);
  EXPECT_EQ(tensor::BF16ToF32(ap[2]), 3.140625f);

  auto b = file->Get("b.f16");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->dtype(), tensor::DType::kF16);
  EXPECT_THAT(b->shape(), ElementsAre(1, 3));
  const uint16_t* bp = b->data<uint16_t>();
  EXPECT_EQ(tensor::F16ToF32(bp[0]), 1.5f);
  EXPECT_EQ(tensor::F16ToF32(bp[1]), -2.25f);
  EXPECT_EQ(tensor::F16ToF32(bp[2]), 65504.0f);
}

// i32 [3] takes 12 bytes, so the i64 after it starts 4 bytes off its alignment: the reader
// must hand out aligned data anyway (a copy), while the aligned i32 stays a view.
TEST_F(SafetensorsTest, IntegerDTypesRoundTripAndMisalignedDataIsCopied) {
  const std::vector<int32_t> i32 = {-7, 0, 2147483647};
  const std::vector<int64_t> i64 = {-1, int64_t{1} << 40};
  auto file = WriteAndOpen(
      BuildSafetensors({{"i32", "I32", {3}, BytesOf(i32)}, {"i64", "I64", {2}, BytesOf(i64)}}));
  ASSERT_TRUE(file.ok()) << file.status();
  auto a = file->Get("i32");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->dtype(), tensor::DType::kI32);
  EXPECT_EQ(a->data<int32_t>()[0], -7);
  EXPECT_EQ(a->data<int32_t>()[2], 2147483647);
  auto b = file->Get("i64");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->dtype(), tensor::DType::kI64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->raw()) % alignof(int64_t), 0u);
  EXPECT_EQ(b->data<int64_t>()[0], -1);
  EXPECT_EQ(b->data<int64_t>()[1], int64_t{1} << 40);
  EXPECT_NE(file->Get("i64")->raw(), b->raw());  // copied on each Get
  EXPECT_EQ(file->Get("i32")->raw(), a->raw());  // viewed in place
}

TEST_F(SafetensorsTest, NamesAreSortedAndMetadataIsKept) {
  const std::string four_bytes(4, '\0');
  auto file = WriteAndOpen(BuildSafetensors(
      {{"z", "F32", {1}, four_bytes}, {"a", "F32", {1}, four_bytes}, {"m", "I32", {}, four_bytes}},
      {{"format", "pt"}, {"step", 3}}));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->TensorNames(), ElementsAre("a", "m", "z"));
  EXPECT_EQ(file->num_tensors(), 3u);
  EXPECT_FALSE(file->Has("__metadata__"));
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("step"), "3");
  auto scalar = file->Get("m");
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->rank(), 0);
  EXPECT_EQ(scalar->numel(), 1);
}

TEST_F(SafetensorsTest, EmptyTensorIsAllowed) {
  auto file = WriteAndOpen(BuildSafetensors({{"empty", "F32", {0, 4}, ""}}));
  ASSERT_TRUE(file.ok()) << file.status();
  auto t = file->Get("empty");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->empty());
  EXPECT_THAT(t->shape(), ElementsAre(0, 4));
}

TEST_F(SafetensorsTest, ViewsAreZeroCopyAndOutliveTheFileObject) {
  const std::vector<float> values = {4.0f, 5.0f};
  tensor::Tensor kept;
  {
    auto file = WriteAndOpen(BuildSafetensors({{"w", "F32", {2}, BytesOf(values)}}));
    ASSERT_TRUE(file.ok()) << file.status();
    auto first = file->Get("w");
    auto second = file->Get("w");
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(first->raw(), second->raw());  // both point into the one mapping
    kept = *first;
  }
  // The SafetensorsFile is gone; the view's shared owner keeps the mapping alive.
  EXPECT_EQ(kept.data<float>()[0], 4.0f);
  EXPECT_EQ(kept.data<float>()[1], 5.0f);
}

TEST_F(SafetensorsTest, MissingTensorIsNotFoundNamingFileAndTensor) {
  auto file = WriteAndOpen(BuildSafetensors({{"w", "F32", {1}, std::string(4, '\0')}}));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->Find("nope"), nullptr);
  auto t = file->Get("nope");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), AllOf(HasSubstr(path_), HasSubstr("'nope'")));
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  auto file = SafetensorsFile::Open(dir_.File("absent.safetensors"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("absent.safetensors"));
}

TEST_F(SafetensorsTest, FileShorterThanLengthPrefixIsRefused) {
  auto file = WriteAndOpen(std::string(5, '\0'));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), AllOf(HasSubstr(path_), HasSubstr("too short")));
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFileIsRefused) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  auto file = WriteAndOpen(RawSafetensors(1000, header, std::string(4, '\0')));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(),
              AllOf(HasSubstr(path_), HasSubstr("header length 1000")));
}

TEST_F(SafetensorsTest, HugeHeaderLengthDoesNotOverflow) {
  auto file = WriteAndOpen(RawSafetensors(~uint64_t{0}, "{}", ""));
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("header length"));
}

TEST_F(SafetensorsTest, TruncatedDataSectionIsRefusedNamingTensor) {
  const std::vector<float> values(8, 1.0f);
  std::string contents = BuildSafetensors(
      {{"first", "F32", {4}, BytesOf(std::vector<float>(4, 2.0f))}, {"second", "F32", {8},
                                                                      BytesOf(values)}});
  contents.resize(contents.size() - 6);  // cut into the last tensor
  auto file = WriteAndOpen(contents);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(),
              AllOf(HasSubstr(path_), HasSubstr("'second'"), HasSubstr("past the end")));
}

TEST_F(SafetensorsTest, HeaderThatIsNotJsonIsRefused) {
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", )", 0), HasSubstr("not valid JSON"));
  EXPECT_THAT(OpenError("[1, 2, 3]", 0), HasSubstr("not a JSON object"));
  EXPECT_THAT(OpenError(R"({"__metadata__": 5})", 0), HasSubstr("__metadata__"));
}

TEST_F(SafetensorsTest, UnsupportedDTypeIsRefusedByName) {
  std::string message =
      OpenError(R"({"w.fp8": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}})", 4);
  EXPECT_THAT(message, AllOf(HasSubstr("'w.fp8'"), HasSubstr("F8_E4M3")));
}

TEST_F(SafetensorsTest, OffsetsOutOfRangeAreRefused) {
  std::string message =
      OpenError(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 16);
  EXPECT_THAT(message, AllOf(HasSubstr("'w'"), HasSubstr("[8, 24]"), HasSubstr("past the end")));
  // One byte past the end is as wrong as many; ending exactly at the end is fine.
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [13, 17]}})", 16),
              HasSubstr("past the end"));
  const std::string exact = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}})";
  EXPECT_TRUE(WriteAndOpen(RawSafetensors(exact.size(), exact, std::string(16, '\0'))).ok());
}

TEST_F(SafetensorsTest, OffsetsWithEndBeforeBeginAreRefused) {
  std::string message =
      OpenError(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 16);
  EXPECT_THAT(message, AllOf(HasSubstr("'w'"), HasSubstr("end < begin")));
}

TEST_F(SafetensorsTest, ByteSizeMismatchIsRefused) {
  std::string message =
      OpenError(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 16]}})", 16);
  EXPECT_THAT(message, AllOf(HasSubstr("'w'"), HasSubstr("16 bytes"), HasSubstr("need 12")));
}

TEST_F(SafetensorsTest, MalformedEntriesAreRefused) {
  EXPECT_THAT(OpenError(R"({"w": [1]})", 0), AllOf(HasSubstr("'w'"), HasSubstr("not a JSON")));
  EXPECT_THAT(OpenError(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4),
              AllOf(HasSubstr("'w'"), HasSubstr("dtype")));
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
              AllOf(HasSubstr("'w'"), HasSubstr("shape")));
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4),
              HasSubstr("shape"));
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4),
              AllOf(HasSubstr("'w'"), HasSubstr("data_offsets")));
  EXPECT_THAT(OpenError(R"({"w": {"dtype": "F32", "shape": [1]}})", 4),
              HasSubstr("data_offsets"));
}

TEST_F(SafetensorsTest, ShapeWhoseByteSizeOverflowsIsRefused) {
  std::string message = OpenError(
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0);
  EXPECT_THAT(message, AllOf(HasSubstr("'w'"), HasSubstr("too large")));
}

}  // namespace
}  // namespace brisk::loader
