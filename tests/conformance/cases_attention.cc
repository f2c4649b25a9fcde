// Conformance cases for the paged KV cache: WriteKvCache, PagedAttention and QkvRopeAttention.
// Cache slots that an op must not read hold NaN, so a kernel that reads past a sequence's
// context (or through the wrong block) fails; slots an op must write start as NaN, so an
// unwritten one fails.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct KvWriteShape {
  int64_t num_tokens, num_kv_heads, head_dim, num_blocks, block_size;
  int64_t num_skipped;  // tokens with slot -1
};

struct Sequence {
  int num_queries;
  int context_len;
};

struct AttentionConfig {
  std::string label;
  int64_t num_heads, num_kv_heads, head_dim, block_size;
  int sliding_window;
  std::vector<Sequence> seqs;
};

// The longest query count and context of the config's sequences (AttentionMetadata's maxima).
std::pair<int, int> LongestOf(const AttentionConfig& c) {
  int max_query_len = 0;
  int max_context_len = 0;
  for (const Sequence& s : c.seqs) {
    max_query_len = std::max(max_query_len, s.num_queries);
    max_context_len = std::max(max_context_len, s.context_len);
  }
  return {max_query_len, max_context_len};
}

// The metadata of a case's inputs 3..5 (query_start_loc, context_lens, block_tables) on the
// backend's device, with the config's maxima.
backend::AttentionMetadata MetadataOnDevice(const DeviceIo& io, const std::vector<Tensor>& in,
                                            const AttentionConfig& c) {
  const std::pair<int, int> longest = LongestOf(c);
  return {.query_start_loc = io.to_device(in[3]),
          .context_lens = io.to_device(in[4]),
          .block_tables = io.to_device(in[5]),
          .max_query_len = longest.first,
          .max_context_len = longest.second};
}

// Naive f32 attention: scores with one running sum, softmax shifted by the max, weighted sum
// of values with one running sum per feature.
// q: [num_tokens, num_heads, head_dim]; caches: [num_blocks, block_size, num_kv_heads, head_dim]
Tensor NaiveAttention(const std::vector<Tensor>& in, const AttentionConfig& c, float scale) {
  const Tensor& q = in[0];
  const int32_t* starts = in[3].data<int32_t>();
  const int32_t* lens = in[4].data<int32_t>();
  const int32_t* tables = in[5].data<int32_t>();
  const int64_t max_blocks = in[5].dim(1);
  const int64_t d = c.head_dim;
  const int64_t group = c.num_heads / c.num_kv_heads;
  Tensor out = Tensor::Empty(DType::kF32, q.shape());
  auto cache_row = [&](const Tensor& cache, int64_t s, int64_t t, int64_t g) {
    int64_t block = tables[s * max_blocks + t / c.block_size];
    return cache.data<float>() +
           ((block * c.block_size + t % c.block_size) * c.num_kv_heads + g) * d;
  };
  for (int64_t s = 0; s < static_cast<int64_t>(c.seqs.size()); ++s) {
    const int64_t num_queries = starts[s + 1] - starts[s];
    for (int64_t j = 0; j < num_queries; ++j) {
      const int64_t row = starts[s] + j;
      const int64_t pos = lens[s] - num_queries + j;
      const int64_t first =
          c.sliding_window > 0 ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
      for (int64_t h = 0; h < c.num_heads; ++h) {
        const float* qh = q.data<float>() + (row * c.num_heads + h) * d;
        std::vector<float> p(pos - first + 1);
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t t = first; t <= pos; ++t) {
          const float* k = cache_row(in[1], s, t, h / group);
          float dot = 0.0f;
          for (int64_t i = 0; i < d; ++i) dot += qh[i] * k[i];
          p[t - first] = dot * scale;
          max_score = std::max(max_score, p[t - first]);
        }
        float sum = 0.0f;
        for (float& v : p) {
          v = std::exp(v - max_score);
          sum += v;
        }
        float* oh = out.data<float>() + (row * c.num_heads + h) * d;
        for (int64_t i = 0; i < d; ++i) {
          float acc = 0.0f;
          for (int64_t t = first; t <= pos; ++t)
            acc += p[t - first] * cache_row(in[2], s, t, h / group)[i];
          oh[i] = acc / sum;
        }
      }
    }
  }
  return out;
}

// Inputs of one attention config: q, k_cache, v_cache, query_start_loc, context_lens,
// block_tables. Blocks are handed out in a shuffled order; unused table entries are -1.
std::vector<Tensor> MakeAttentionInputs(const AttentionConfig& c, const std::string& name) {
  std::mt19937 rng = RngFor(name);
  const int64_t num_seqs = static_cast<int64_t>(c.seqs.size());
  int64_t max_blocks = 1;
  int64_t total_blocks = 0;
  int num_tokens = 0;
  for (const Sequence& s : c.seqs) {
    int64_t blocks = (s.context_len + c.block_size - 1) / c.block_size;
    max_blocks = std::max(max_blocks, blocks + 1);  // one spare column of -1
    total_blocks += blocks;
    num_tokens += s.num_queries;
  }
  const int64_t num_blocks = total_blocks + 3;  // a few blocks nobody owns
  std::vector<int32_t> block_ids(num_blocks);
  std::iota(block_ids.begin(), block_ids.end(), 0);
  std::shuffle(block_ids.begin(), block_ids.end(), rng);

  const tensor::Shape cache_shape = {num_blocks, c.block_size, c.num_kv_heads, c.head_dim};
  Tensor k_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
  Tensor v_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
  std::vector<bool> slot_used(num_blocks * c.block_size, false);
  std::vector<int32_t> tables(num_seqs * max_blocks, -1);
  std::vector<int32_t> starts = {0};
  std::vector<int32_t> lens;
  int64_t next_block = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const Sequence& seq = c.seqs[s];
    for (int64_t t = 0; t < seq.context_len; ++t) {
      if (t % c.block_size == 0)
        tables[s * max_blocks + t / c.block_size] = block_ids[next_block++];
      slot_used[tables[s * max_blocks + t / c.block_size] * c.block_size + t % c.block_size] = true;
    }
    starts.push_back(starts.back() + seq.num_queries);
    lens.push_back(seq.context_len);
  }
  const int64_t token_elems = c.num_kv_heads * c.head_dim;
  for (int64_t slot = 0; slot < num_blocks * c.block_size; ++slot) {
    if (slot_used[slot]) continue;
    std::fill_n(k_cache.data<float>() + slot * token_elems, token_elems, kNaN);
    std::fill_n(v_cache.data<float>() + slot * token_elems, token_elems, kNaN);
  }
  // q spans [-3, 3) so that scores spread over a few units and softmax is far from uniform.
  return {RandomF32({num_tokens, c.num_heads, c.head_dim}, -3.0f, 3.0f, &rng),
          k_cache,
          v_cache,
          I32({num_seqs + 1}, starts),
          I32({num_seqs}, lens),
          I32({num_seqs, max_blocks}, tables)};
}

// A decode-shaped batch for QkvRopeAttention: the attention config, the rotary width, and the
// query rows whose slot is -1 (padding rows: no KV write, the cache row is read as it is).
struct RopeAttentionConfig {
  AttentionConfig att;
  int64_t rotary_dim;
  std::vector<int64_t> skipped_rows;
};

// Inputs, in order: qkv, k_cache, v_cache, query_start_loc, context_lens, block_tables,
// positions, cos_sin, slot_mapping. Query row j of sequence s sits at position
// context_len - num_queries + j, and its slot is that position's cache slot (poisoned: the op
// must write it before it is read); cache slots outside every context hold random values
// (the caches are compared whole).
std::vector<Tensor> MakeRopeAttentionInputs(const RopeAttentionConfig& rc,
                                            const std::string& name) {
  const AttentionConfig& c = rc.att;
  std::vector<Tensor> att = MakeAttentionInputs(c, name);
  std::mt19937 rng = RngFor(name + "/rope");
  std::uniform_real_distribution<float> fill(-1.0f, 1.0f);
  for (int cache : {1, 2}) {
    for (int64_t i = 0; i < att[cache].numel(); ++i) {
      float& v = att[cache].data<float>()[i];
      if (std::isnan(v)) v = fill(rng);
    }
  }
  const int64_t num_tokens = att[0].dim(0);
  const int64_t max_blocks = att[5].dim(1);
  std::vector<int32_t> positions(num_tokens), slots(num_tokens);
  int max_position = 0;
  for (int64_t s = 0; s < static_cast<int64_t>(c.seqs.size()); ++s) {
    const int32_t start = att[3].data<int32_t>()[s];
    const Sequence& seq = c.seqs[s];
    for (int j = 0; j < seq.num_queries; ++j) {
      const int32_t pos = seq.context_len - seq.num_queries + j;
      const int32_t block = att[5].data<int32_t>()[s * max_blocks + pos / c.block_size];
      positions[start + j] = pos;
      slots[start + j] = static_cast<int32_t>(block * c.block_size + pos % c.block_size);
      max_position = std::max(max_position, pos);
    }
  }
  for (int64_t t : rc.skipped_rows) slots[t] = -1;
  PoisonSlots(slots, c.num_kv_heads * c.head_dim, &att[1]);
  PoisonSlots(slots, c.num_kv_heads * c.head_dim, &att[2]);
  const Tensor cos_sin = RopeTable(max_position + 1, rc.rotary_dim);
  // qkv in [-2, 2): rotated q spreads the scores over a few units, as in the attention cases.
  const int64_t width = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim;
  return {RandomF32({num_tokens, width}, -2.0f, 2.0f, &rng),
          att[1],
          att[2],
          att[3],
          att[4],
          att[5],
          I32({num_tokens}, positions),
          cos_sin,
          I32({num_tokens}, slots)};
}

// out, k_cache and v_cache of QkvRopeAttention, naively: every q and k head rotated, k and v
// written to their slots, then NaiveAttention over the written caches.
std::vector<Tensor> NaiveRopeAttention(const std::vector<Tensor>& in,
                                       const RopeAttentionConfig& rc, float scale) {
  const AttentionConfig& c = rc.att;
  const int64_t num_tokens = in[0].dim(0);
  const int64_t d = c.head_dim;
  Tensor q = Tensor::Empty(DType::kF32, {num_tokens, c.num_heads, d});
  Tensor k_cache = Clone(in[1]);
  Tensor v_cache = Clone(in[2]);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* row = in[0].data<float>() + t * in[0].dim(1);
    const float* cs = in[7].data<float>() + in[6].data<int32_t>()[t] * rc.rotary_dim;
    for (int64_t h = 0; h < c.num_heads; ++h) {
      NaiveHead(row + h * d, nullptr, 0.0f, d, cs, rc.rotary_dim,
                q.data<float>() + (t * c.num_heads + h) * d);
    }
    const int32_t slot = in[8].data<int32_t>()[t];
    if (slot < 0) continue;
    for (int64_t g = 0; g < c.num_kv_heads; ++g) {
      const int64_t offset = (slot * c.num_kv_heads + g) * d;
      NaiveHead(row + (c.num_heads + g) * d, nullptr, 0.0f, d, cs, rc.rotary_dim,
                k_cache.data<float>() + offset);
      std::copy_n(row + (c.num_heads + c.num_kv_heads + g) * d, d, v_cache.data<float>() + offset);
    }
  }
  Tensor out = NaiveAttention({q, k_cache, v_cache, in[3], in[4], in[5]}, c, scale);
  return {out, k_cache, v_cache};
}

}  // namespace

std::vector<OpCase> WriteKvCacheCases() {
  const KvWriteShape shapes[] = {{1, 1, 1, 1, 1, 0},    {5, 2, 16, 4, 4, 1},
                                 {13, 8, 64, 8, 16, 4}, {127, 1, 128, 10, 16, 0},
                                 {7, 4, 13, 5, 3, 2},   {1, 3, 5, 2, 2, 1}};
  std::vector<OpCase> cases;
  for (const KvWriteShape& s : shapes) {
    const std::string name =
        absl::StrCat("t", s.num_tokens, "_kv", s.num_kv_heads, "_d", s.head_dim, "_b", s.num_blocks,
                     "x", s.block_size, "_skip", s.num_skipped);
    cases.push_back(OpCase{
        .op = OpId::kWriteKvCache,
        .name = name,
        .checks = {Check::kExact, Check::kExact},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              const std::vector<int32_t> slots = ScatteredSlots(
                  s.num_blocks * s.block_size, s.num_tokens, s.num_skipped, 5, &rng);
              const tensor::Shape token_shape = {s.num_tokens, s.num_kv_heads, s.head_dim};
              const tensor::Shape cache_shape = {s.num_blocks, s.block_size, s.num_kv_heads,
                                                 s.head_dim};
              Tensor k = RandomF32(token_shape, -1.0f, 1.0f, &rng);
              Tensor v = RandomF32(token_shape, -1.0f, 1.0f, &rng);
              Tensor k_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
              Tensor v_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
              // Poison exactly the slots the op must write.
              PoisonSlots(slots, s.num_kv_heads * s.head_dim, &k_cache);
              PoisonSlots(slots, s.num_kv_heads * s.head_dim, &v_cache);
              return std::vector<Tensor>{k, v, I32({s.num_tokens}, slots), k_cache, v_cache};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor k_cache = io.to_device(in[3]);
              Tensor v_cache = io.to_device(in[4]);
              b.WriteKvCache(io.to_device(in[0]), io.to_device(in[1]), io.to_device(in[2]),
                             &k_cache, &v_cache);
              return std::vector<Tensor>{io.to_host(k_cache), io.to_host(v_cache)};
            },
        .naive_f32 = nullptr,
    });
  }
  return cases;
}

std::vector<OpCase> PagedAttentionCases() {
  const AttentionConfig configs[] = {
      {"decode_mha", 4, 4, 16, 16, 0, {{1, 1}, {1, 17}, {1, 100}}},
      {"decode_gqa", 8, 2, 64, 16, 0, {{1, 37}, {1, 5}}},
      {"decode_mqa7", 7, 1, 40, 16, 0, {{1, 45}}},  // 7 heads split unevenly over threads
      {"prefill_mqa", 6, 1, 13, 5, 0, {{13, 13}}},
      {"mixed_gqa", 8, 2, 20, 4, 0, {{5, 29}, {1, 7}, {12, 12}, {1, 1}}},
      {"window7", 4, 2, 32, 8, 7, {{20, 20}, {1, 50}, {9, 30}}},
      {"window1", 2, 1, 8, 3, 1, {{5, 9}}},
      {"window_wide", 4, 4, 24, 16, 1000, {{3, 40}, {1, 2}}},
      {"long_prefill", 4, 1, 64, 16, 0, {{127, 127}}},
      {"long_chunk", 2, 2, 128, 16, 0, {{257, 300}}},
      {"block1_d128", 4, 2, 128, 1, 0, {{7, 7}, {1, 33}}},
      {"many_seqs", 3, 1, 7, 2, 5, {{1, 3}, {2, 2}, {4, 11}, {1, 6}, {3, 3}}},
      // Sequences with several query rows take a tiled kernel on some backends: tiles of query
      // rows times a KV head's group of query heads, keys walked 32 at a time, tiles nobody
      // sees skipped. The cases below hit partial row tiles, groups of 1 to 16 heads (odd ones
      // too), head_dim not a multiple of 32 (or of 4), block sizes that do not divide the key
      // tile, prefixes already in the cache, windows narrower and wider than a tile.
      {"tiled_prefill300_g4", 8, 2, 64, 16, 0, {{300, 300}}},
      {"tiled_prefill700_mha", 2, 2, 64, 32, 0, {{700, 700}}},
      {"tiled_chunk_g8_d128", 8, 1, 128, 16, 0, {{80, 330}}},
      {"tiled_chunks_g4_d128", 4, 1, 128, 32, 0, {{70, 70}, {33, 161}, {2, 50}}},
      {"tiled_window1_g4", 4, 1, 64, 16, 1, {{300, 300}, {40, 90}}},
      {"tiled_window5_g2", 4, 2, 32, 16, 5, {{250, 250}, {33, 70}}},
      {"tiled_window100_d128", 4, 1, 128, 32, 100, {{500, 500}, {64, 300}}},
      {"tiled_mixed_batch", 8, 2, 64, 16, 0, {{1, 200}, {37, 37}, {50, 180}, {1, 1}, {2, 90}}},
      {"tiled_g16", 16, 1, 32, 8, 0, {{70, 100}}},
      {"tiled_g12_d16", 12, 1, 16, 3, 9, {{40, 40}, {1, 12}}},
      {"tiled_g7_d40", 7, 1, 40, 16, 0, {{45, 60}}},
      {"tiled_g2_d96_bs24", 4, 2, 96, 24, 0, {{129, 129}, {65, 200}}},
      {"tiled_d13_window3", 3, 3, 13, 7, 3, {{66, 66}, {17, 20}}},
      {"zero_query_seqs", 4, 2, 32, 16, 0, {{0, 5}, {19, 19}, {0, 9}, {1, 4}, {2, 40}}},
      {"empty_batch", 4, 2, 32, 16, 0, {{0, 4}}},
      {"row_path_d256", 2, 1, 256, 16, 6, {{20, 40}, {1, 30}}},
  };
  std::vector<OpCase> cases;
  for (const AttentionConfig& c : configs) {
    const std::string name = absl::StrCat(c.label, "_h", c.num_heads, "_kv", c.num_kv_heads, "_d",
                                          c.head_dim, "_bs", c.block_size);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    cases.push_back(OpCase{
        .op = OpId::kPagedAttention,
        .name = name,
        .checks = {Check::kReduction},
        .make_inputs = [=] { return MakeAttentionInputs(c, name); },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              const backend::AttentionMetadata meta = MetadataOnDevice(io, in, c);
              Tensor out = io.to_device(Poisoned(in[0].shape()));
              b.PagedAttention(io.to_device(in[0]), io.to_device(in[1]), io.to_device(in[2]), meta,
                               {.scale = scale, .sliding_window = c.sliding_window}, &out);
              return std::vector<Tensor>{io.to_host(out)};
            },
        .naive_f32 =
            [=](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{NaiveAttention(in, c, scale)};
            },
    });
  }
  return cases;
}

std::vector<OpCase> QkvRopeAttentionCases() {
  // Decode batches (one query row per sequence) take the fused path where a backend has one;
  // the last cases do not (several query rows, head_dim not a multiple of 4) and check the
  // fallback. Groups above 8 query heads per KV head split a KV head over several blocks, of
  // which one writes the cache.
  const RopeAttentionConfig configs[] = {
      {{"decode_gqa", 8, 2, 128, 16, 0, {{1, 37}, {1, 200}, {1, 1}, {1, 64}}}, 128, {2}},
      {{"decode_mha_partial", 4, 4, 64, 8, 0, {{1, 100}, {1, 9}}}, 32, {}},
      {{"decode_g16", 16, 1, 128, 16, 0, {{1, 300}, {1, 17}}}, 128, {}},
      {{"decode_window7", 4, 2, 32, 8, 7, {{1, 50}, {1, 3}}}, 32, {1}},
      {{"decode_zero_query_seq", 4, 2, 64, 16, 0, {{0, 5}, {1, 9}, {1, 70}}}, 64, {}},
      {{"decode_long", 8, 2, 64, 16, 0, {{1, 2100}}}, 64, {}},
      {{"mixed_fallback", 8, 2, 64, 4, 0, {{5, 29}, {1, 7}}}, 64, {0}},
      {{"decode_d13_fallback", 2, 1, 13, 3, 0, {{1, 20}, {1, 4}}}, 12, {}},
  };
  std::vector<OpCase> cases;
  for (const RopeAttentionConfig& rc : configs) {
    const AttentionConfig& c = rc.att;
    const std::string name = absl::StrCat(c.label, "_h", c.num_heads, "_kv", c.num_kv_heads, "_d",
                                          c.head_dim, "_r", rc.rotary_dim, "_bs", c.block_size);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    cases.push_back(OpCase{
        .op = OpId::kQkvRopeAttention,
        .name = name,
        // out: attention (a reduction); k_cache: rotated (elementwise); v_cache: copied.
        .checks = {Check::kReduction, Check::kElementwise, Check::kExact},
        .make_inputs = [=] { return MakeRopeAttentionInputs(rc, name); },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              const backend::AttentionMetadata meta = MetadataOnDevice(io, in, c);
              Tensor k_cache = io.to_device(in[1]);
              Tensor v_cache = io.to_device(in[2]);
              Tensor out = io.to_device(Poisoned({in[0].dim(0), c.num_heads, c.head_dim}));
              b.QkvRopeAttention(io.to_device(in[0]), io.to_device(in[6]), io.to_device(in[7]),
                                 io.to_device(in[8]), nullptr, nullptr, 0.0f, &k_cache,
                                 &v_cache, meta,
                                 {.scale = scale, .sliding_window = c.sliding_window}, &out);
              return std::vector<Tensor>{io.to_host(out), io.to_host(k_cache),
                                         io.to_host(v_cache)};
            },
        .naive_f32 = [=](const std::vector<Tensor>& in) {
          return NaiveRopeAttention(in, rc, scale);
        },
    });
  }
  return cases;
}

}  // namespace brisk::conformance
