// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and Sequence
// post-processors (see post_processor.h).
#include "tokenizer/post_processor.h"

#include <unordered_map>
#include <utility>

namespace brisk::tokenizer {
namespace {

// One template item: a run of special-token ids, or (empty `ids`) the encoded sequence.
struct TemplatePiece {
  std::vector<int32_t> ids;
  bool is_sequence = false;
};

class TemplateProcessor final : public PostProcessor {
 public:
  explicit TemplateProcessor(std::vector<TemplatePiece> single) : single_(std::move(single)) {}

  void Process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 8);
    for (const TemplatePiece& piece : single_) {
      if (piece.is_sequence) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), piece.ids.begin(), piece.ids.end());
      }
    }
    ids = std::move(out);
  }

 private:
  std::vector<TemplatePiece> single_;
};

class NoOpProcessor final : public PostProcessor {
 public:
  void Process(std::vector<int32_t>& ids) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> stages)
      : stages_(std::move(stages)) {}
  void Process(std::vector<int32_t>& ids) const override {
    for (const auto& stage : stages_) stage->Process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> stages_;
};

// Reads "special_tokens": {"<name>": {"id": "<name>", "ids": [..], "tokens": [..]}, ...}.
absl::StatusOr<std::unordered_map<std::string, std::vector<int32_t>>> ReadSpecialTokens(
    const Json& config, const std::string& where) {
  std::unordered_map<std::string, std::vector<int32_t>> special;
  auto it = config.find("special_tokens");
  if (it == config.end() || it->is_null()) return special;
  if (!it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": special_tokens must be an object"));
  }
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    const std::string entry_where = absl::StrCat(where, ".special_tokens[\"", entry.key(), "\"]");
    BRISK_ASSIGN_OR_RETURN(const Json* ids, GetArray(entry.value(), "ids", entry_where));
    std::vector<int32_t>& out = special[entry.key()];
    for (const Json& id : *ids) {
      BRISK_ASSIGN_OR_RETURN(int32_t value, GetId(id, entry_where));
      out.push_back(value);
    }
  }
  return special;
}

absl::StatusOr<std::unique_ptr<PostProcessor>> MakeTemplate(const Json& config,
                                                            const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(auto special, ReadSpecialTokens(config, where));
  BRISK_ASSIGN_OR_RETURN(const Json* single, GetArray(config, "single", where));
  std::vector<TemplatePiece> pieces;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& item = (*single)[i];
    const std::string item_where = absl::StrCat(where, ".single[", i, "]");
    if (!item.is_object() || item.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          item_where, ": must be {\"SpecialToken\": {...}} or {\"Sequence\": {...}}"));
    }
    const std::string& kind = item.begin().key();
    BRISK_ASSIGN_OR_RETURN(std::string id, GetString(item.begin().value(), "id", item_where));
    if (kind == "Sequence") {
      if (id != "A") {
        return absl::InvalidArgumentError(
            absl::StrCat(item_where, ": a single-sequence template can only hold $A, not $", id));
      }
      pieces.push_back({{}, true});
    } else if (kind == "SpecialToken") {
      auto found = special.find(id);
      if (found == special.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(item_where, ": special token '", id, "' is missing from special_tokens"));
      }
      pieces.push_back({found->second, false});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(item_where, ": unknown template item '", kind, "'"));
    }
  }
  return std::make_unique<TemplateProcessor>(std::move(pieces));
}

// Reads BertProcessing's and RobertaProcessing's ["[CLS]", 101]-style token fields.
absl::StatusOr<int32_t> ReadTokenPair(const Json& config, const char* key,
                                      const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", key, "' must be [token, id]"));
  }
  return GetId((*it)[1], absl::StrCat(where, ".", key));
}

// BertProcessing and RobertaProcessing: "cls $A sep" for a single sequence (Roberta's offset
// options do not change ids).
absl::StatusOr<std::unique_ptr<PostProcessor>> MakeClsSep(const Json& config,
                                                          const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(int32_t cls, ReadTokenPair(config, "cls", where));
  BRISK_ASSIGN_OR_RETURN(int32_t sep, ReadTokenPair(config, "sep", where));
  std::vector<TemplatePiece> pieces;
  pieces.push_back({{cls}, false});
  pieces.push_back({{}, true});
  pieces.push_back({{sep}, false});
  return std::make_unique<TemplateProcessor>(std::move(pieces));
}

absl::StatusOr<std::unique_ptr<PostProcessor>> MakeByteLevel(const Json& config,
                                                             const std::string& where) {
  return std::make_unique<NoOpProcessor>();
}

absl::StatusOr<std::unique_ptr<PostProcessor>> MakeSequence(const Json& config,
                                                            const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(const Json* list, GetArray(config, "processors", where));
  std::vector<std::unique_ptr<PostProcessor>> stages;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string stage_where = absl::StrCat(where, ".processors[", i, "]");
    if ((*list)[i].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(stage_where, ": must not be null"));
    }
    BRISK_ASSIGN_OR_RETURN(auto stage, MakePostProcessor((*list)[i], stage_where));
    stages.push_back(std::move(stage));
  }
  return std::make_unique<SequenceProcessor>(std::move(stages));
}

constexpr RegistryEntry<PostProcessor> kRegistry[] = {
    {"TemplateProcessing", &MakeTemplate},
    {"BertProcessing", &MakeClsSep},
    {"RobertaProcessing", &MakeClsSep},
    {"ByteLevel", &MakeByteLevel},
    {"Sequence", &MakeSequence},
};

}  // namespace

std::span<const RegistryEntry<PostProcessor>> PostProcessorRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<PostProcessor>> MakePostProcessor(const Json& config,
                                                                 const std::string& where) {
  if (config.is_null()) return std::unique_ptr<PostProcessor>();
  return MakeFromRegistry(PostProcessorRegistry(), "post_processor", config, where);
}

}  // namespace brisk::tokenizer
