// Tests for ApiKeys: SHA-256 against published vectors, parsing of good and bad key files
// (line numbers, no key text in any message), and the Authorization header rules.
#include "api/api_keys.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace brisk::api {
namespace {

// Writes `contents` to a fresh file under the test temp dir; removes it on destruction.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static int counter = 0;
    path_ = ::testing::TempDir() + "/brisk_api_keys_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++) + ".txt";
    std::ofstream out(path_, std::ios::binary);
    out << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// SHA-256 test vectors from FIPS 180-2 appendix B / NIST CAVP examples.
TEST(Sha256DigestTest, NistVectors) {
  EXPECT_EQ(absl::BytesToHexString(Sha256Digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(absl::BytesToHexString(Sha256Digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(absl::BytesToHexString(
                Sha256Digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256DigestTest, BinaryInputWithNulBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(Sha256Digest(with_nul).size(), 32u);
  EXPECT_NE(Sha256Digest(with_nul), Sha256Digest("a"));
}

TEST(ApiKeysTest, LoadsGoodFile) {
  TempFile file(
      "# production keys\n"
      "\n"
      "sk-alpha-0001 team_alpha\n"
      "   \t  \n"
      "  sk-beta-00002\tbeta.org-1   \n"
      "# sk-commented-out ghost\n"
      "sk-gamma-0003 gamma\r\n"  // CRLF line ending
      "sk-delta-0004 gamma");    // no final newline; tenants may share
  absl::StatusOr<ApiKeys> keys = ApiKeys::Load(file.path());
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 4);
  EXPECT_EQ(keys->TenantFor("Bearer sk-alpha-0001"), "team_alpha");
  EXPECT_EQ(keys->TenantFor("Bearer sk-beta-00002"), "beta.org-1");
  EXPECT_EQ(keys->TenantFor("Bearer sk-gamma-0003"), "gamma");
  EXPECT_EQ(keys->TenantFor("Bearer sk-delta-0004"), "gamma");
  EXPECT_EQ(keys->TenantFor("Bearer sk-commented-out"), std::nullopt);
  EXPECT_EQ(keys->TenantFor("Bearer #"), std::nullopt);
}

TEST(ApiKeysTest, MissingFileIsNotFoundWithPath) {
  const std::string path = ::testing::TempDir() + "/brisk_api_keys_does_not_exist.txt";
  absl::StatusOr<ApiKeys> keys = ApiKeys::Load(path);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(keys.status().message()).find(path), std::string::npos);
}

TEST(ApiKeysTest, EmptyFileHasNoKeys) {
  TempFile file("");
  absl::StatusOr<ApiKeys> keys = ApiKeys::Load(file.path());
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.status().message(), file.path() + ": no keys");
}

TEST(ApiKeysTest, OnlyCommentsAndBlanksHasNoKeys) {
  absl::StatusOr<ApiKeys> keys = ApiKeys::FromLines("# nothing here\n\n   \n#x y\n", "keys.txt");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().message(), "keys.txt: no keys");
}

struct BadFileCase {
  std::string name;
  std::string text;
  std::string secret;    // key text that must not leak into the message
  std::string expected;  // whole expected message
};

TEST(ApiKeysTest, BadFilesNameLineAndProblemWithoutTheKey) {
  const std::vector<BadFileCase> cases = {
      {"missing tenant", "# c\nsk-secret-111 ok\nsk-lonely-key-222\n", "sk-lonely-key-222",
       "keys.txt:3: missing tenant (expected '<key> <tenant>')"},
      {"extra field", "sk-secret-333 tenant extra\n", "sk-secret-333",
       "keys.txt:1: expected 2 fields '<key> <tenant>', found 3"},
      {"duplicate", "sk-dup-key-444 a\n\nsk-other-555 b\nsk-dup-key-444 c\n", "sk-dup-key-444",
       "keys.txt:4: duplicate key (first defined on line 1)"},
      {"short key", "\n\nshort7x tenant\n", "short7x",
       "keys.txt:3: key is 7 characters long, needs at least 8"},
      {"non-ascii key", "sk-caf\xC3\xA9-666 tenant\n", "sk-caf",
       "keys.txt:1: key has a character that is not printable ASCII at position 7"},
      {"control char in key", "sk-\x01secret-777 tenant\n", "secret-777",
       "keys.txt:1: key has a character that is not printable ASCII at position 4"},
      {"bad tenant", "sk-secret-888 team/alpha\n", "sk-secret-888",
       "keys.txt:1: tenant name has a character outside [A-Za-z0-9_.-] at position 5"},
      {"swapped columns", "alpha sk-secret:999\n", "sk-secret:999",
       "keys.txt:1: key is 5 characters long, needs at least 8"},
  };
  for (const BadFileCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ApiKeys> keys = ApiKeys::FromLines(c.text, "keys.txt");
    ASSERT_FALSE(keys.ok());
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(keys.status().message(), c.expected);
    EXPECT_EQ(std::string(keys.status().message()).find(c.secret), std::string::npos);
  }
}

TEST(ApiKeysTest, BadFileOnDiskNamesThePath) {
  TempFile file("sk-fine-key-01 t1\nsk-no-tenant-02\n");
  absl::StatusOr<ApiKeys> keys = ApiKeys::Load(file.path());
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().message(),
            file.path() + ":2: missing tenant (expected '<key> <tenant>')");
  EXPECT_EQ(std::string(keys.status().message()).find("sk-no-tenant-02"), std::string::npos);
}

class TenantForTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ApiKeys> keys =
        ApiKeys::FromLines("sk-live-abcdef12 acme\nQ!w@e#r$t%y^ other_tenant\n", "test");
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_.emplace(*std::move(keys));
  }
  std::optional<ApiKeys> keys_;
};

TEST_F(TenantForTest, AcceptsBearerWithAnyCaseAndSpaces) {
  EXPECT_EQ(keys_->size(), 2);
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef12"), "acme");
  EXPECT_EQ(keys_->TenantFor("bearer sk-live-abcdef12"), "acme");
  EXPECT_EQ(keys_->TenantFor("BEARER sk-live-abcdef12"), "acme");
  EXPECT_EQ(keys_->TenantFor("bEaReR    sk-live-abcdef12"), "acme");
  EXPECT_EQ(keys_->TenantFor("Bearer Q!w@e#r$t%y^"), "other_tenant");
}

TEST_F(TenantForTest, RejectsMissingHeaderAndWrongScheme) {
  EXPECT_EQ(keys_->TenantFor(""), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer "), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer    "), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("sk-live-abcdef12"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Basic sk-live-abcdef12"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Token sk-live-abcdef12"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearersk-live-abcdef12"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer\tsk-live-abcdef12"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor(" Bearer sk-live-abcdef12"), std::nullopt);
}

TEST_F(TenantForTest, RejectsKeyWithTrailingSpacesOrExtraText) {
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef12 "), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef12   "), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef12 acme"), std::nullopt);
}

TEST_F(TenantForTest, RejectsUnknownAndNearMissKeys) {
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef13"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef1"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer sk-live-abcdef123"), std::nullopt);
  EXPECT_EQ(keys_->TenantFor("Bearer SK-LIVE-ABCDEF12"), std::nullopt);  // keys are case-sensitive
  EXPECT_EQ(keys_->TenantFor("Bearer acme"), std::nullopt);  // a tenant name is not a key
}

}  // namespace
}  // namespace brisk::api
