// The decoder registry: ByteLevel (byte-level alphabet back to bytes, then lossy UTF-8),
// ByteFallback ("<0xAB>" tokens back to bytes), Fuse (join everything into one string),
// Metaspace ("▁" back to spaces), Strip (trim a character from each token), Replace,
// WordPiece ("##" continuation and BERT's cleanup) and Sequence (stages applied in order), each
// matching Hugging Face `tokenizers` byte for byte.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace brisk::tokenizer {

// Every registered decoder type, in registry order.
std::span<const RegistryEntry<Decoder>> DecoderRegistry();

// Builds the decoder described by `config`. Returns nullptr for a JSON null, Unimplemented
// naming an unsupported type.
absl::StatusOr<std::unique_ptr<Decoder>> MakeDecoder(const Json& config, const std::string& where);

}  // namespace brisk::tokenizer
