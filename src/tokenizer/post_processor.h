// The post-processor registry: TemplateProcessing (special tokens around the sequence, e.g.
// Llama 3's "<|begin_of_text|> $A"), BertProcessing and RobertaProcessing ("[CLS] $A [SEP]"),
// ByteLevel (offsets only, so a no-op on ids) and Sequence.
// Only single-sequence templates are used; a "pair" template is read but ignored.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace brisk::tokenizer {

// Every registered post-processor type, in registry order.
std::span<const RegistryEntry<PostProcessor>> PostProcessorRegistry();

// Builds the post-processor described by `config`. Returns nullptr for a JSON null,
// InvalidArgument for malformed templates, Unimplemented naming an unsupported type.
absl::StatusOr<std::unique_ptr<PostProcessor>> MakePostProcessor(const Json& config,
                                                                 const std::string& where);

}  // namespace brisk::tokenizer
