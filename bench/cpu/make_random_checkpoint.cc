// Writes a Hugging Face folder (config.json + model.safetensors) with random bf16 weights in
// the exact shapes of a real Llama-family model, for speed measurements: speed does not depend
// on the weights' values. Values are N(0, 0.02)-like (sum of uniforms), norms are 1.
// Usage: brisk_make_random_checkpoint --shape llama-3.2-1b|llama-3.1-8b|brisk-tiny-like OUT_DIR
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tensor/dtype.h"

namespace {

struct Shape {
  int vocab, hidden, intermediate, layers, heads, kv_heads, head_dim;
  bool tied;
  int max_positions;
  double theta;
  bool llama3_rope;
};

bool LookUp(const std::string& name, Shape* s) {
  if (name == "llama-3.2-1b") {
    *s = {128256, 2048, 8192, 16, 32, 8, 64, true, 131072, 500000.0, true};
  } else if (name == "llama-3.1-8b") {
    *s = {128256, 4096, 14336, 32, 32, 8, 128, false, 131072, 500000.0, true};
  } else {
    return false;
  }
  return true;
}

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  bool is_norm;
};

// xorshift64*: fast, deterministic.
uint64_t Next(uint64_t& s) {
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ull;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || std::string(argv[1]) != "--shape") {
    std::fprintf(stderr, "usage: %s --shape llama-3.2-1b|llama-3.1-8b OUT_DIR\n", argv[0]);
    return 2;
  }
  Shape s;
  if (!LookUp(argv[2], &s)) {
    std::fprintf(stderr, "unknown shape '%s' (llama-3.2-1b, llama-3.1-8b)\n", argv[2]);
    return 2;
  }
  const std::string out = argv[3];
  std::vector<Entry> entries = {{"model.embed_tokens.weight", {s.vocab, s.hidden}, false},
                                {"model.norm.weight", {s.hidden}, true}};
  if (!s.tied) entries.push_back({"lm_head.weight", {s.vocab, s.hidden}, false});
  const int64_t q = int64_t{s.heads} * s.head_dim, kv = int64_t{s.kv_heads} * s.head_dim;
  for (int l = 0; l < s.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    entries.push_back({p + "input_layernorm.weight", {s.hidden}, true});
    entries.push_back({p + "post_attention_layernorm.weight", {s.hidden}, true});
    entries.push_back({p + "self_attn.q_proj.weight", {q, s.hidden}, false});
    entries.push_back({p + "self_attn.k_proj.weight", {kv, s.hidden}, false});
    entries.push_back({p + "self_attn.v_proj.weight", {kv, s.hidden}, false});
    entries.push_back({p + "self_attn.o_proj.weight", {s.hidden, q}, false});
    entries.push_back({p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, false});
    entries.push_back({p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, false});
    entries.push_back({p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, false});
  }
  nlohmann::json header = nlohmann::json::object();
  int64_t offset = 0;
  for (const Entry& e : entries) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    header[e.name] = {{"dtype", "BF16"}, {"shape", e.shape}, {"data_offsets", {offset, offset + 2 * n}}};
    offset += 2 * n;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::ofstream f(out + "/model.safetensors", std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot write %s/model.safetensors (does the folder exist?)\n", out.c_str());
    return 1;
  }
  uint64_t hlen = h.size();
  f.write(reinterpret_cast<const char*>(&hlen), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  // Chunks of 1 Mi values, each from its own generator state seeded by the chunk's global
  // index, filled by every core: the file is the same for any thread count.
  constexpr int64_t kChunk = int64_t{1} << 20;
  int64_t chunk_base = 0;
  std::vector<uint16_t> buf;
  for (const Entry& e : entries) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    buf.resize(n);
    const int64_t num_chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t c = 0; c < num_chunks; ++c) {
      uint64_t state = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(chunk_base + c + 1);
      const int64_t end = std::min(n, (c + 1) * kChunk);
      for (int64_t i = c * kChunk; i < end; ++i) {
        float v = 1.0f;
        if (!e.is_norm) {  // sum of 4 uniforms in [-1, 1): variance 4/3; scale to std 0.02
          float acc = 0;
          for (int k = 0; k < 4; ++k) acc += static_cast<float>(Next(state) >> 40) / 8388608.0f - 1.0f;
          v = acc * 0.02f * 0.866f;
        }
        buf[i] = brisk::tensor::F32ToBF16(v);
      }
    }
    chunk_base += num_chunks;
    f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(2 * n));
  }
  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
      {"vocab_size", s.vocab}, {"hidden_size", s.hidden}, {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads}, {"head_dim", s.head_dim},
      {"max_position_embeddings", s.max_positions}, {"rms_norm_eps", 1e-5},
      {"tie_word_embeddings", s.tied}, {"hidden_act", "silu"}, {"torch_dtype", "bfloat16"},
      {"bos_token_id", 128000}, {"eos_token_id", 128001}, {"rope_theta", s.theta},
      {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                        {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}};
  std::ofstream(out + "/config.json") << config.dump(2) << "\n";
  std::fprintf(stderr, "wrote %s: %.2f GB of bf16 weights\n", out.c_str(), offset / 1e9);
  return 0;
}
