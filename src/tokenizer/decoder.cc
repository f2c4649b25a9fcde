// ByteLevel, ByteFallback, Fuse and Sequence decoders (see decoder.h).
#include "tokenizer/decoder.h"

#include <optional>
#include <utility>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// Every token's characters go back to bytes (a token with a character outside the alphabet,
// such as an added token with a space, contributes its own UTF-8 bytes instead); the joined
// bytes become one lossy UTF-8 string.
class ByteLevelDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      if (!AppendBytesFromByteLevel(token, bytes)) bytes.append(token);
    }
    std::string text;
    AppendUtf8Lossy(bytes, text);
    tokens.assign(1, std::move(text));
  }
};

// The byte of a "<0xAB>" token (two hex digits, either case), or nullopt for other tokens.
std::optional<uint8_t> FallbackByte(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    value = value * 16 + digit;
  }
  return static_cast<uint8_t>(value);
}

// Runs of byte tokens become their UTF-8 text when the run is valid UTF-8, otherwise one
// U+FFFD per byte of the run; other tokens pass through.
class ByteFallbackDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (IsValidUtf8(run)) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) out.emplace_back(kReplacementChar);
      }
      run.clear();
    };
    for (std::string& token : tokens) {
      if (std::optional<uint8_t> byte = FallbackByte(token)) {
        run.push_back(static_cast<char>(*byte));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& token : tokens) joined.append(token);
    tokens.assign(1, std::move(joined));
  }
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> stages)
      : stages_(std::move(stages)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (const auto& stage : stages_) stage->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> stages_;
};

template <typename T>
absl::StatusOr<std::unique_ptr<Decoder>> MakeSimple(const Json& config, const std::string& where) {
  return std::make_unique<T>();
}

absl::StatusOr<std::unique_ptr<Decoder>> MakeSequence(const Json& config,
                                                      const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(const Json* list, GetArray(config, "decoders", where));
  std::vector<std::unique_ptr<Decoder>> stages;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string stage_where = absl::StrCat(where, ".decoders[", i, "]");
    if ((*list)[i].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(stage_where, ": must not be null"));
    }
    BRISK_ASSIGN_OR_RETURN(auto stage, MakeDecoder((*list)[i], stage_where));
    stages.push_back(std::move(stage));
  }
  return std::make_unique<SequenceDecoder>(std::move(stages));
}

constexpr RegistryEntry<Decoder> kRegistry[] = {
    {"ByteLevel", &MakeSimple<ByteLevelDecoder>},
    {"ByteFallback", &MakeSimple<ByteFallbackDecoder>},
    {"Fuse", &MakeSimple<FuseDecoder>},
    {"Sequence", &MakeSequence},
};

}  // namespace

std::span<const RegistryEntry<Decoder>> DecoderRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<Decoder>> MakeDecoder(const Json& config, const std::string& where) {
  if (config.is_null()) return std::unique_ptr<Decoder>();
  return MakeFromRegistry(DecoderRegistry(), "decoder", config, where);
}

}  // namespace brisk::tokenizer
