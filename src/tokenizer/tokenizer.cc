// Tokenizer: wires the components read from tokenizer.json together (see tokenizer.h).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <utility>

#include "base/mapped_file.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

const Json& Member(const Json& root, std::string_view key) {
  static const Json* const kNull = new Json(nullptr);
  auto it = root.find(key);
  return it == root.end() ? *kNull : *it;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json,
                                                               std::string_view source_name) {
  const std::string source(source_name);
  Json root = Json::parse(json, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": top level must be an object"));
  }
  auto where = [&](const char* field) { return absl::StrCat(source, ": ", field); };
  // The readers check types before every access; this catch only guards against a reader bug
  // turning into an escaped exception.
  try {
    auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer());
    if (auto version = root.find("version"); version != root.end() && *version != "1.0") {
      return absl::UnimplementedError(
          absl::StrCat(where("version"), ": unsupported version ", version->dump()));
    }
    BRISK_ASSIGN_OR_RETURN(tokenizer->normalizer_,
                           MakeNormalizer(Member(root, "normalizer"), where("normalizer")));
    BRISK_ASSIGN_OR_RETURN(tokenizer->pre_tokenizer_,
                           MakePreTokenizer(Member(root, "pre_tokenizer"), where("pre_tokenizer")));
    if (Member(root, "model").is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(where("model"), ": missing"));
    }
    BRISK_ASSIGN_OR_RETURN(tokenizer->model_, MakeModel(Member(root, "model"), where("model")));
    BRISK_ASSIGN_OR_RETURN(
        tokenizer->post_processor_,
        MakePostProcessor(Member(root, "post_processor"), where("post_processor")));
    BRISK_ASSIGN_OR_RETURN(tokenizer->decoder_,
                           MakeDecoder(Member(root, "decoder"), where("decoder")));
    BRISK_ASSIGN_OR_RETURN(AddedVocabulary added,
                           AddedVocabulary::FromJson(&Member(root, "added_tokens"), *tokenizer->model_,
                                                     tokenizer->normalizer_.get(),
                                                     where("added_tokens")));
    tokenizer->added_ = std::make_unique<AddedVocabulary>(std::move(added));
    return tokenizer;
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(
    const std::string& tokenizer_json_path) {
  BRISK_ASSIGN_OR_RETURN(std::string json, base::ReadFileToString(tokenizer_json_path));
  return FromJson(json, tokenizer_json_path);
}

// Text between non-normalized added tokens: normalize, split out the normalized added tokens,
// pre-tokenize what remains, then run the model on every piece. `origin` is the offset of
// `text` in the input; pieces carry their own input offsets for the pre-tokenizers.
void Tokenizer::EncodeText(std::string_view text, size_t origin, std::vector<int32_t>& ids) const {
  NormalizedText normalized;
  std::string_view view = text;
  if (normalizer_) {
    normalized = NormalizedText::Identity(text);
    normalizer_->Normalize(normalized);
    view = normalized.text;
  }
  std::vector<Segment> segments;
  added_->Split(view, AddedVocabulary::Pass::kNormalized, segments);
  std::vector<PreToken> words;
  for (const Segment& segment : segments) {
    if (segment.id) {
      ids.push_back(*segment.id);
      continue;
    }
    const auto offset = static_cast<size_t>(segment.text.data() - view.data());
    words.clear();
    words.push_back({std::string(segment.text),
                     origin + (normalizer_ ? normalized.origin[offset] : offset)});
    if (pre_tokenizer_) pre_tokenizer_->PreTokenize(words);
    for (const PreToken& word : words) model_->Tokenize(word.text, ids);
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, AddSpecial add) const {
  std::string repaired;
  if (!IsValidUtf8(text)) {
    AppendUtf8Lossy(text, repaired);
    text = repaired;
  }
  std::vector<int32_t> ids;
  std::vector<Segment> segments;
  added_->Split(text, AddedVocabulary::Pass::kRaw, segments);
  for (const Segment& segment : segments) {
    if (segment.id) {
      ids.push_back(*segment.id);
    } else {
      EncodeText(segment.text, static_cast<size_t>(segment.text.data() - text.data()), ids);
    }
  }
  if (add == AddSpecial::kYes && post_processor_) post_processor_->Process(ids);
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, SkipSpecial skip) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = added_->FindById(id)) {
      if (skip == SkipSpecial::kYes && added->special) continue;
      tokens.push_back(added->content);
    } else if (std::optional<std::string_view> token = model_->IdToToken(id)) {
      tokens.emplace_back(*token);
    }
  }
  if (!decoder_) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&joined, i ? " " : "", tokens[i]);
    return joined;
  }
  decoder_->DecodeChain(tokens);
  std::string text;
  for (const std::string& token : tokens) text.append(token);
  return text;
}

int32_t Tokenizer::vocab_size() const { return std::max(model_->id_end(), added_->id_end()); }

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (std::optional<int32_t> id = added_->FindByContent(token)) return id;
  return model_->TokenToId(token);
}

std::string Tokenizer::IdToToken(int32_t id) const {
  if (const AddedToken* added = added_->FindById(id)) return added->content;
  return std::string(model_->IdToToken(id).value_or(""));
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const AddedToken* added = added_->FindById(id);
  return added != nullptr && added->special;
}

}  // namespace brisk::tokenizer
