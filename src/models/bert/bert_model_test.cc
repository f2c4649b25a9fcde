// BertEmbedder against an independent oracle: a naive double-precision BERT forward written
// here from the architecture's definition, on tiny random checkpoints written byte by byte
// (f32, bf16 and f16 weights; plain and "bert."-prefixed names; weight/bias and gamma/beta
// norm spellings; CLS and mean pooling, with and without L2 normalization), on both CPU
// backends. Also: batch invariance, the Embed input contract, and loading refusals.
#include "models/bert/bert_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference/reference_backend.h"
#include "loader/safetensors_test_writer.h"
#include "models/registry.h"
#include "nlohmann/json.hpp"

namespace brisk::models {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using loader::test_writer::ScopedTempDir;
using loader::test_writer::TestTensor;
using loader::test_writer::WriteFile;
using tensor::Tensor;

enum class StoredDType { kF32, kBF16, kF16 };

// A tiny BERT: sizes, options and weights by their BertModel names, already rounded to the
// stored dtype so the oracle sees exactly what brisk loads.
struct TinyBert {
  int vocab = 37, hidden = 32, layers = 2, heads = 4, intermediate = 48, max_positions = 24;
  int type_vocab = 2;
  double eps = 1e-12;
  bool tanh_gelu = false;
  std::map<std::string, std::vector<float>> w;
  std::map<std::string, std::vector<int64_t>> shapes;
};

float RoundTo(StoredDType dtype, float x) {
  switch (dtype) {
    case StoredDType::kF32: return x;
    case StoredDType::kBF16: return tensor::BF16ToF32(tensor::F32ToBF16(x));
    case StoredDType::kF16: return tensor::F16ToF32(tensor::F32ToF16(x));
  }
  return x;
}

TinyBert MakeTinyBert(StoredDType dtype, bool tanh_gelu, uint32_t seed) {
  TinyBert m;
  m.tanh_gelu = tanh_gelu;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float center, float scale) {
    std::vector<float> v(tensor::NumElements(shape));
    for (float& x : v) x = RoundTo(dtype, center + scale * normal(rng));
    m.w[name] = std::move(v);
    m.shapes[name] = std::move(shape);
  };
  const int64_t h = m.hidden, i = m.intermediate;
  add("embeddings.word_embeddings.weight", {m.vocab, h}, 0, 0.5f);
  add("embeddings.position_embeddings.weight", {m.max_positions, h}, 0, 0.5f);
  add("embeddings.token_type_embeddings.weight", {m.type_vocab, h}, 0, 0.5f);
  // Norm scales away from 1 and non-zero biases, so a forgotten norm or bias fails.
  add("embeddings.LayerNorm.weight", {h}, 1, 0.3f);
  add("embeddings.LayerNorm.bias", {h}, 0, 0.2f);
  for (int l = 0; l < m.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense"}) {
      add(p + name + ".weight", {h, h}, 0, 0.3f);
      add(p + name + ".bias", {h}, 0, 0.2f);
    }
    add(p + "attention.output.LayerNorm.weight", {h}, 1, 0.3f);
    add(p + "attention.output.LayerNorm.bias", {h}, 0, 0.2f);
    add(p + "intermediate.dense.weight", {i, h}, 0, 0.3f);
    add(p + "intermediate.dense.bias", {i}, 0, 0.2f);
    add(p + "output.dense.weight", {h, i}, 0, 0.3f);
    add(p + "output.dense.bias", {h}, 0, 0.2f);
    add(p + "output.LayerNorm.weight", {h}, 1, 0.3f);
    add(p + "output.LayerNorm.bias", {h}, 0, 0.2f);
  }
  // Present in real checkpoints and ignored by brisk.
  add("pooler.dense.weight", {h, h}, 0, 0.3f);
  add("pooler.dense.bias", {h}, 0, 0.2f);
  return m;
}

struct WriteOptions {
  StoredDType dtype = StoredDType::kF32;
  std::string prefix = "";       // "" or "bert."
  bool gamma_beta = false;       // the older LayerNorm.gamma / LayerNorm.beta spelling
  std::string architecture = "BertModel";
};

std::string StoredBytes(StoredDType dtype, const std::vector<float>& values) {
  if (dtype == StoredDType::kF32) return loader::test_writer::BytesOf(values);
  std::vector<uint16_t> bits;
  for (float x : values) {
    bits.push_back(dtype == StoredDType::kBF16 ? tensor::F32ToBF16(x) : tensor::F32ToF16(x));
  }
  return loader::test_writer::BytesOf(bits);
}

void WriteTinyBert(const TinyBert& m, const WriteOptions& options, const std::string& dir) {
  const char* dtype_name = options.dtype == StoredDType::kF32    ? "F32"
                           : options.dtype == StoredDType::kBF16 ? "BF16"
                                                                 : "F16";
  std::vector<TestTensor> tensors;
  for (const auto& [name, values] : m.w) {
    std::string stored = name;
    if (options.gamma_beta && name.find("LayerNorm.") != std::string::npos) {
      stored = name.substr(0, name.rfind('.')) + (name.ends_with(".weight") ? ".gamma" : ".beta");
    }
    tensors.push_back({options.prefix + stored, dtype_name, m.shapes.at(name),
                       StoredBytes(options.dtype, values)});
  }
  if (!options.prefix.empty()) {  // a masked-LM head, ignored
    tensors.push_back({"cls.predictions.bias", "F32", {m.vocab},
                       loader::test_writer::BytesOf(std::vector<float>(m.vocab, 0.5f))});
  }
  WriteFile(dir + "/model.safetensors", loader::test_writer::BuildSafetensors(tensors));
  const Json config = {{"architectures", {options.architecture}},
                       {"model_type", "bert"},
                       {"vocab_size", m.vocab},
                       {"hidden_size", m.hidden},
                       {"num_hidden_layers", m.layers},
                       {"num_attention_heads", m.heads},
                       {"intermediate_size", m.intermediate},
                       {"hidden_act", m.tanh_gelu ? "gelu_new" : "gelu"},
                       {"max_position_embeddings", m.max_positions},
                       {"type_vocab_size", m.type_vocab},
                       {"layer_norm_eps", m.eps},
                       {"pad_token_id", 0}};
  WriteFile(dir + "/config.json", config.dump());
}

// A sentence-transformers description: mean or CLS pooling, optional Normalize.
void WriteSentenceTransformers(const std::string& dir, const std::string& mode, bool normalize,
                               int max_seq_length, int dimension) {
  Json modules = Json::array(
      {{{"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
       {{"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
  if (normalize) {
    modules.push_back({{"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
  }
  WriteFile(dir + "/modules.json", modules.dump());
  std::filesystem::create_directories(dir + "/1_Pooling");
  WriteFile(dir + "/1_Pooling/config.json",
            Json{{"word_embedding_dimension", dimension},
                 {"pooling_mode_cls_token", mode == "cls"},
                 {"pooling_mode_mean_tokens", mode == "mean"}}
                .dump());
  WriteFile(dir + "/sentence_bert_config.json", Json{{"max_seq_length", max_seq_length}}.dump());
}

// --- The oracle: BERT in double precision, one sequence at a time. ---

using Matrix = std::vector<double>;  // row-major [rows, cols]

// y = x · wᵀ + b. x: [rows, in]; w: [out, in]; b: [out]
Matrix Dense(const Matrix& x, int64_t rows, const std::vector<float>& w,
             const std::vector<float>& b) {
  const int64_t out = static_cast<int64_t>(b.size()), in = static_cast<int64_t>(w.size()) / out;
  Matrix y(rows * out);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double acc = b[o];
      for (int64_t k = 0; k < in; ++k) acc += x[r * in + k] * double{w[o * in + k]};
      y[r * out + o] = acc;
    }
  }
  return y;
}

void LayerNormRows(Matrix& x, int64_t rows, const std::vector<float>& g,
                   const std::vector<float>& b, double eps) {
  const int64_t dim = static_cast<int64_t>(g.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t d = 0; d < dim; ++d) mean += x[r * dim + d] / dim;
    for (int64_t d = 0; d < dim; ++d) var += (x[r * dim + d] - mean) * (x[r * dim + d] - mean) / dim;
    for (int64_t d = 0; d < dim; ++d) {
      x[r * dim + d] = (x[r * dim + d] - mean) / std::sqrt(var + eps) * g[d] + b[d];
    }
  }
}

double GeluOf(double x, bool tanh_form) {
  if (tanh_form) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

// Final hidden states [len, hidden] of one sequence.
Matrix NaiveHidden(const TinyBert& m, const std::vector<int32_t>& ids) {
  const int64_t n = static_cast<int64_t>(ids.size()), h = m.hidden, hd = h / m.heads;
  auto W = [&](const std::string& name) -> const std::vector<float>& { return m.w.at(name); };
  Matrix x(n * h);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t d = 0; d < h; ++d) {
      x[t * h + d] = double{W("embeddings.word_embeddings.weight")[ids[t] * h + d]} +
                     W("embeddings.position_embeddings.weight")[t * h + d] +
                     W("embeddings.token_type_embeddings.weight")[d];
    }
  }
  LayerNormRows(x, n, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), m.eps);
  for (int l = 0; l < m.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    auto dense = [&](const Matrix& in, const std::string& name) {
      return Dense(in, n, W(p + name + ".weight"), W(p + name + ".bias"));
    };
    const Matrix q = dense(x, "attention.self.query"), k = dense(x, "attention.self.key"),
                 v = dense(x, "attention.self.value");
    Matrix context(n * h, 0.0);
    for (int64_t head = 0; head < m.heads; ++head) {
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> score(n);
        double max_score = -1e300, total = 0;
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t e = 0; e < hd; ++e) s += q[i * h + head * hd + e] * k[j * h + head * hd + e];
          score[j] = s / std::sqrt(double(hd));
          max_score = std::max(max_score, score[j]);
        }
        for (int64_t j = 0; j < n; ++j) total += (score[j] = std::exp(score[j] - max_score));
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t e = 0; e < hd; ++e) {
            context[i * h + head * hd + e] += score[j] / total * v[j * h + head * hd + e];
          }
        }
      }
    }
    Matrix a = dense(context, "attention.output.dense");
    for (int64_t t = 0; t < n * h; ++t) a[t] += x[t];
    LayerNormRows(a, n, W(p + "attention.output.LayerNorm.weight"),
                  W(p + "attention.output.LayerNorm.bias"), m.eps);
    Matrix inter = dense(a, "intermediate.dense");
    for (double& value : inter) value = GeluOf(value, m.tanh_gelu);
    x = dense(inter, "output.dense");
    for (int64_t t = 0; t < n * h; ++t) x[t] += a[t];
    LayerNormRows(x, n, W(p + "output.LayerNorm.weight"), W(p + "output.LayerNorm.bias"), m.eps);
  }
  return x;
}

std::vector<double> NaiveEmbedding(const TinyBert& m, const std::vector<int32_t>& ids,
                                   Pooling pooling, bool normalize) {
  const Matrix x = NaiveHidden(m, ids);
  const int64_t n = static_cast<int64_t>(ids.size());
  std::vector<double> e(m.hidden, 0.0);
  for (int64_t d = 0; d < m.hidden; ++d) {
    if (pooling == Pooling::kCls) {
      e[d] = x[d];
    } else {
      for (int64_t t = 0; t < n; ++t) e[d] += x[t * m.hidden + d] / n;
    }
  }
  if (normalize) {
    double norm = 0;
    for (double v : e) norm += v * v;
    for (double& v : e) v /= std::sqrt(norm);
  }
  return e;
}

// --- Tests ---

enum class BackendKind { kReference, kCpu };

std::unique_ptr<backend::Backend> MakeBackend(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return backend::MakeReferenceBackend();
    case BackendKind::kCpu: return backend::MakeCpuBackend({.num_threads = 2});
  }
  return nullptr;
}

// Token sequences of awkward lengths (1, 5, 13 and the maximum of 24), ids over the whole vocab.
std::vector<std::vector<int32_t>> Sequences(const TinyBert& m) {
  std::mt19937 rng(11);
  std::vector<std::vector<int32_t>> out;
  for (int len : {5, 1, 13, m.max_positions}) {
    std::vector<int32_t> ids(len);
    for (int32_t& id : ids) id = static_cast<int32_t>(rng() % m.vocab);
    out.push_back(ids);
  }
  out[2][0] = m.vocab - 1;
  return out;
}

// f32 activations against the f64 oracle. Values are O(1) (LayerNorm outputs, or unit
// vectors); the f32 error of 2 layers of ≤ 48-term dot products, softmax and LayerNorm is
// ~1e-6, while a wrong formula (a missed bias, norm, scale or position) is off by ≥ 1e-2.
constexpr double kTolerance = 5e-5;

void ExpectMatchesOracle(const TinyBert& m, Embedder& embedder,
                         const std::vector<std::vector<int32_t>>& batch, Pooling pooling,
                         bool normalize) {
  auto result = embedder.Embed(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->shape(), (tensor::Shape{static_cast<int64_t>(batch.size()), m.hidden}));
  for (size_t s = 0; s < batch.size(); ++s) {
    const std::vector<double> expected = NaiveEmbedding(m, batch[s], pooling, normalize);
    double worst = 0;
    int worst_idx = 0;
    for (int d = 0; d < m.hidden; ++d) {
      const double err = std::abs(result->data<float>()[s * m.hidden + d] - expected[d]);
      if (err > worst) worst = err, worst_idx = d;
    }
    EXPECT_LE(worst, kTolerance) << "sequence " << s << " (length " << batch[s].size()
                                 << "): max |brisk - oracle| at dim " << worst_idx;
  }
}

class BertModelTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { backend_ = MakeBackend(GetParam()); }

  std::unique_ptr<Embedder> Load(const std::string& dir) {
    auto model = LoadBertEmbedder(dir, backend_.get());
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *std::move(model) : nullptr;
  }

  std::unique_ptr<backend::Backend> backend_;
  ScopedTempDir dir_;
};

TEST_P(BertModelTest, PlainFolderIsClsPoolingWithoutNormalization) {
  const TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 1);
  WriteTinyBert(m, {}, dir_.path().string());
  auto embedder = Load(dir_.path().string());
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->info().dimensions, m.hidden);
  EXPECT_EQ(embedder->info().max_tokens, m.max_positions);
  EXPECT_EQ(embedder->info().pooling, Pooling::kCls);
  EXPECT_FALSE(embedder->info().normalized);
  EXPECT_EQ(embedder->info().pad_token_id, 0);
  ExpectMatchesOracle(m, *embedder, Sequences(m), Pooling::kCls, false);
}

TEST_P(BertModelTest, MeanPoolingNormalizedBf16PrefixedOldNormNamesTanhGelu) {
  const TinyBert m = MakeTinyBert(StoredDType::kBF16, /*tanh_gelu=*/true, 2);
  WriteTinyBert(m, {.dtype = StoredDType::kBF16, .prefix = "bert.", .gamma_beta = true,
                    .architecture = "BertForMaskedLM"},
                dir_.path().string());
  WriteSentenceTransformers(dir_.path().string(), "mean", /*normalize=*/true, 16, m.hidden);
  auto embedder = Load(dir_.path().string());
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->info().pooling, Pooling::kMean);
  EXPECT_TRUE(embedder->info().normalized);
  EXPECT_EQ(embedder->info().max_tokens, 16);  // max_seq_length < max_position_embeddings
  auto batch = Sequences(m);
  batch.pop_back();  // longer than max_seq_length
  ExpectMatchesOracle(m, *embedder, batch, Pooling::kMean, true);
  for (int s = 0; s < static_cast<int>(batch.size()); ++s) {
    auto one = embedder->Embed({batch[s]});
    ASSERT_TRUE(one.ok());
    double norm = 0;
    for (int d = 0; d < m.hidden; ++d) norm += double{one->data<float>()[d]} * one->data<float>()[d];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-6) << "sequence " << s;
  }
}

TEST_P(BertModelTest, ClsPoolingNormalizedF16) {
  const TinyBert m = MakeTinyBert(StoredDType::kF16, /*tanh_gelu=*/false, 3);
  WriteTinyBert(m, {.dtype = StoredDType::kF16}, dir_.path().string());
  WriteSentenceTransformers(dir_.path().string(), "cls", /*normalize=*/true, 512, m.hidden);
  auto embedder = Load(dir_.path().string());
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->info().max_tokens, m.max_positions);  // max_seq_length beyond positions
  ExpectMatchesOracle(m, *embedder, Sequences(m), Pooling::kCls, true);
}

TEST_P(BertModelTest, BatchingChangesNothingButRounding) {
  const TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 4);
  WriteTinyBert(m, {}, dir_.path().string());
  WriteSentenceTransformers(dir_.path().string(), "mean", /*normalize=*/false, 64, m.hidden);
  auto embedder = Load(dir_.path().string());
  ASSERT_NE(embedder, nullptr);
  const auto batch = Sequences(m);
  auto together = embedder->Embed(batch);
  ASSERT_TRUE(together.ok()) << together.status();
  for (size_t s = 0; s < batch.size(); ++s) {
    auto alone = embedder->Embed({batch[s]});
    ASSERT_TRUE(alone.ok()) << alone.status();
    for (int d = 0; d < m.hidden; ++d) {
      // Different row counts may take different GEMM blockings: float rounding only.
      EXPECT_NEAR(alone->data<float>()[d], together->data<float>()[s * m.hidden + d], 1e-5)
          << "sequence " << s << " dim " << d;
    }
  }
}

TEST_P(BertModelTest, InvalidInputsAreRefusedNamingTheSequence) {
  const TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 5);
  WriteTinyBert(m, {}, dir_.path().string());
  auto embedder = Load(dir_.path().string());
  ASSERT_NE(embedder, nullptr);
  auto expect_error = [&](const std::vector<std::vector<int32_t>>& batch,
                          const std::string& needle) {
    auto result = embedder->Embed(batch);
    ASSERT_FALSE(result.ok()) << needle;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(needle));
  };
  expect_error({{1, 2}, {}}, "sequence 1 is empty");
  expect_error({std::vector<int32_t>(m.max_positions + 1, 3)}, "sequence 0 has 25 tokens");
  expect_error({{1}, {2}, {3, m.vocab}}, "sequence 2, token 1: id 37");
  expect_error({{-1}}, "id -1");
  auto empty = embedder->Embed({});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->shape(), (tensor::Shape{0, m.hidden}));
}

TEST_P(BertModelTest, MissingOrMisshapedWeightsAreNamed) {
  TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 6);
  m.w.erase("encoder.layer.1.intermediate.dense.bias");
  WriteTinyBert(m, {}, dir_.path().string());
  auto missing = LoadBertEmbedder(dir_.path().string(), backend_.get());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("encoder.layer.1.intermediate.dense.bias"));

  m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 6);
  m.max_positions = 20;  // the config now disagrees with the stored [24, hidden] table
  WriteTinyBert(m, {}, dir_.path().string());
  auto misshaped = LoadBertEmbedder(dir_.path().string(), backend_.get());
  EXPECT_EQ(misshaped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(misshaped.status().message(), HasSubstr("embeddings.position_embeddings.weight"));
}

TEST_P(BertModelTest, NoEmbeddingsUnderEitherPrefixIsNotFound) {
  TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 7);
  WriteTinyBert(m, {.prefix = "encoder."}, dir_.path().string());
  auto result = LoadBertEmbedder(dir_.path().string(), backend_.get());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("bert.embeddings.word_embeddings.weight"));
}

TEST_P(BertModelTest, PoolingDimensionMustMatchHiddenSize) {
  const TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 8);
  WriteTinyBert(m, {}, dir_.path().string());
  WriteSentenceTransformers(dir_.path().string(), "mean", false, 16, 768);
  auto result = LoadBertEmbedder(dir_.path().string(), backend_.get());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), AllOf(HasSubstr("768"), HasSubstr("32")));
}

TEST_P(BertModelTest, RegistryLoadsBertArchitecturesAndRefusesOthers) {
  const TinyBert m = MakeTinyBert(StoredDType::kF32, /*tanh_gelu=*/false, 9);
  WriteTinyBert(m, {.prefix = "bert.", .architecture = "BertForMaskedLM"}, dir_.path().string());
  auto loaded = LoadEmbedderModel(dir_.path().string(), backend_.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectMatchesOracle(m, **loaded, {{4, 5, 6}}, Pooling::kCls, false);

  WriteTinyBert(m, {.architecture = "BertForSequenceClassification"}, dir_.path().string());
  auto refused = LoadEmbedderModel(dir_.path().string(), backend_.get());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("BertForSequenceClassification"), HasSubstr("BertModel")));
}

INSTANTIATE_TEST_SUITE_P(Backends, BertModelTest,
                         ::testing::Values(BackendKind::kReference, BackendKind::kCpu),
                         [](const auto& info) {
                           return info.param == BackendKind::kReference ? "reference" : "cpu";
                         });

TEST(EmbedderRegistryTest, ListsBertArchitecturesSorted) {
  EXPECT_THAT(RegisteredEmbedderArchitectures(),
              ::testing::ElementsAre("BertForMaskedLM", "BertModel"));
}

}  // namespace
}  // namespace brisk::models
