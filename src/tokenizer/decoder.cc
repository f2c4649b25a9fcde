// ByteLevel, ByteFallback, Fuse, Metaspace, Strip, Replace, WordPiece and Sequence decoders
// (see decoder.h).
#include "tokenizer/decoder.h"

#include <optional>
#include <utility>

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
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

// Metaspace: the replacement character becomes a space, except in the first token, where it
// is dropped altogether unless the prepend scheme is "never".
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (token.find(replacement_) == std::string::npos) continue;
      const std::string_view space = i == 0 && drop_in_first_ ? "" : " ";
      std::string out;
      size_t prev = 0;
      for (size_t at = token.find(replacement_); at != std::string::npos;
           at = token.find(replacement_, prev)) {
        out.append(token, prev, at - prev);
        out.append(space);
        prev = at + replacement_.size();
      }
      out.append(token, prev);
      token = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool drop_in_first_;
};

// Strip: removes up to `start` leading and `stop` trailing characters equal to `content` from
// every token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      size_t begin = 0;
      for (size_t n = 0; n < start_ && token.compare(begin, content_.size(), content_) == 0 &&
                         begin + content_.size() <= token.size();
           ++n) {
        begin += content_.size();
      }
      size_t end = token.size();
      for (size_t n = 0; n < stop_ && end >= begin + content_.size() &&
                         token.compare(end - content_.size(), content_.size(), content_) == 0;
           ++n) {
        end -= content_.size();
      }
      token = token.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;  // one character, in UTF-8
  size_t start_;
  size_t stop_;
};

// Replace: every match of the pattern in every token becomes `content`.
class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::vector<ByteSpan> matches;
    for (std::string& token : tokens) {
      matches.clear();
      pattern_.FindAll(token, matches);
      if (matches.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (const ByteSpan& match : matches) {
        out.append(token, prev, match.first - prev);
        out.append(content_);
        prev = match.second;
      }
      out.append(token, prev);
      token = std::move(out);
    }
  }

 private:
  Regex pattern_;
  std::string content_;
};

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  size_t prev = 0;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, prev)) {
    out.append(text, prev, at - prev);
    out.append(to);
    prev = at + from.size();
  }
  if (prev == 0) return;
  out.append(text, prev);
  text = std::move(out);
}

// The English detokenization cleanup of BERT (with its " do not" -> " don't" quirk).
void CleanUpTokenization(std::string& text) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},        {" ?", "?"},     {" !", "!"},     {" ,", ","},
      {" ' ", "'"},       {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
      {" 's", "'s"},      {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) ReplaceAll(text, from, to);
}

// WordPiece: tokens after the first lose their continuing prefix or gain a leading space.
class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (i != 0) {
        if (token.starts_with(prefix_)) {
          token.erase(0, prefix_.size());
        } else {
          token.insert(0, " ");
        }
      }
      if (cleanup_) CleanUpTokenization(token);
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
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

absl::StatusOr<std::unique_ptr<Decoder>> MakeMetaspace(const Json& config,
                                                       const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::string replacement, GetString(config, "replacement", where));
  if (replacement.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": Metaspace replacement is empty"));
  }
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> scheme,
                         GetOptionalString(config, "prepend_scheme", where));
  BRISK_ASSIGN_OR_RETURN(bool add_prefix_space, GetBool(config, "add_prefix_space", true, where));
  const bool drop_in_first = add_prefix_space && scheme.value_or("always") != "never";
  return std::make_unique<MetaspaceDecoder>(std::move(replacement), drop_in_first);
}

absl::StatusOr<size_t> GetCount(const Json& config, const char* key, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return 0;
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", key, "' must be a non-negative integer"));
  }
  return static_cast<size_t>(it->get<int64_t>());
}

absl::StatusOr<std::unique_ptr<Decoder>> MakeStrip(const Json& config, const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::string content, GetString(config, "content", where));
  BRISK_ASSIGN_OR_RETURN(size_t start, GetCount(config, "start", where));
  BRISK_ASSIGN_OR_RETURN(size_t stop, GetCount(config, "stop", where));
  if (content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": Strip content is empty"));
  }
  return std::make_unique<StripDecoder>(std::move(content), start, stop);
}

absl::StatusOr<std::unique_ptr<Decoder>> MakeReplace(const Json& config,
                                                     const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(Regex pattern, ReadPattern(config, "pattern", where));
  BRISK_ASSIGN_OR_RETURN(std::string content, GetString(config, "content", where));
  return std::make_unique<ReplaceDecoder>(std::move(pattern), std::move(content));
}

absl::StatusOr<std::unique_ptr<Decoder>> MakeWordPiece(const Json& config,
                                                       const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> prefix,
                         GetOptionalString(config, "prefix", where));
  BRISK_ASSIGN_OR_RETURN(bool cleanup, GetBool(config, "cleanup", true, where));
  return std::make_unique<WordPieceDecoder>(prefix.value_or("##"), cleanup);
}

constexpr RegistryEntry<Decoder> kRegistry[] = {
    {"ByteLevel", &MakeSimple<ByteLevelDecoder>},
    {"ByteFallback", &MakeSimple<ByteFallbackDecoder>},
    {"Fuse", &MakeSimple<FuseDecoder>},
    {"Metaspace", &MakeMetaspace},
    {"Strip", &MakeStrip},
    {"Replace", &MakeReplace},
    {"WordPiece", &MakeWordPiece},
    {"Sequence", &MakeSequence},
};

}  // namespace

std::span<const RegistryEntry<Decoder>> DecoderRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<Decoder>> MakeDecoder(const Json& config, const std::string& where) {
  if (config.is_null()) return std::unique_ptr<Decoder>();
  return MakeFromRegistry(DecoderRegistry(), "decoder", config, where);
}

}  // namespace brisk::tokenizer
