// brisk_semantic_bench: speed and recall of the semantic cache's nearest-neighbour index
// (cache/semantic_index.h). It fills one namespace with N unit vectors through the public
// Insert, then times single-threaded Lookups and compares each answer with an exact search over
// the raw vectors (faiss::knn_inner_product, BLAS). Data is synthetic (many clusters of noisy
// points; queries are perturbed stored vectors, "near", and fresh points of the same clusters,
// "fresh") or real embeddings read from a raw float32 file (--vectors, --dim; the last --queries
// rows become the queries). Modes: flat (exact), hnsw, pca (HNSW over PCA-reduced vectors).
// Prints progress to stderr and one markdown table to stdout.
#include <faiss/utils/distances.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cache/semantic_index.h"

namespace brisk::bench {
namespace {

using cache::CacheKey;
using cache::SemanticIndex;

struct BenchOptions {
  std::vector<int64_t> entries = {10'000};
  std::vector<std::string> modes = {"flat", "hnsw", "pca"};
  int dimensions = 256;
  int num_queries = 10'000;
  int points_per_cluster = 20;
  float cluster_noise = 0.5f;  // noise norm relative to a unit centre: cluster mates ~0.8 cosine
  float query_noise = 0.15f;   // near queries: cosine ~0.99 to the stored vector they perturb
  float spectrum_decay = 0.0f;  // coordinate i scaled by (i + 1)^-decay; 0 = isotropic
  float threshold = 0.9f;
  int pca_dimensions = 64;
  int pca_train_entries = 4096;
  int hnsw_m = 32;
  int hnsw_ef_construction = 80;
  int hnsw_ef_search = 64;
  int64_t flat_max_entries = 200'000;  // flat lookups past this take too long to time 10k of
  std::string vectors_path;
  uint64_t seed = 1234;
};

// The data of one run: stored vectors and queries, row-major and unit length.
struct Dataset {
  int dimensions = 0;
  int64_t num_points = 0;
  std::vector<float> points = {};   // [num_points, dimensions]
  std::vector<float> queries = {};  // [num_queries, dimensions]
  std::vector<std::string> query_kind = {};  // "near" or "fresh" (or "real"), per query
};

void NormalizeRows(std::vector<float>& rows, int dimensions) {
  for (size_t start = 0; start < rows.size(); start += dimensions) {
    double sum = 0;
    for (int i = 0; i < dimensions; ++i) sum += double{rows[start + i]} * rows[start + i];
    const float scale = sum > 0 ? static_cast<float>(1.0 / std::sqrt(sum)) : 0.0f;
    for (int i = 0; i < dimensions; ++i) rows[start + i] *= scale;
  }
}

// Per-coordinate scales (i + 1)^-decay, normalized to unit norm: decay 0 is isotropic, the
// worst case for PCA; real embeddings concentrate their variance in fewer directions.
std::vector<float> Spectrum(int dimensions, float decay) {
  std::vector<float> scale(dimensions);
  double sum = 0;
  for (int i = 0; i < dimensions; ++i) {
    scale[i] = std::pow(float(i + 1), -decay);
    sum += double{scale[i]} * scale[i];
  }
  for (float& x : scale) x = static_cast<float>(x / std::sqrt(sum));
  return scale;
}

// base + noise of norm ~relative_noise shaped by `spectrum`.
void AppendNoisy(std::mt19937_64& rng, const float* base, const std::vector<float>& spectrum,
                 float relative_noise, std::vector<float>& out) {
  std::normal_distribution<float> normal(0.0f, relative_noise);
  for (size_t i = 0; i < spectrum.size(); ++i) out.push_back(base[i] + spectrum[i] * normal(rng));
}

Dataset Synthetic(const BenchOptions& options, int64_t num_points) {
  const int d = options.dimensions;
  std::mt19937_64 rng(options.seed);
  const int64_t num_clusters = std::max<int64_t>(1, num_points / options.points_per_cluster);
  std::vector<float> centres;
  centres.reserve(num_clusters * d);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<float> spectrum = Spectrum(d, options.spectrum_decay);
  for (int64_t i = 0; i < num_clusters * d; ++i) centres.push_back(spectrum[i % d] * normal(rng));
  NormalizeRows(centres, d);
  Dataset data{.dimensions = d, .num_points = num_points};
  data.points.reserve(num_points * d);
  std::uniform_int_distribution<int64_t> pick_cluster(0, num_clusters - 1);
  for (int64_t i = 0; i < num_points; ++i) {
    AppendNoisy(rng, &centres[pick_cluster(rng) * d], spectrum, options.cluster_noise,
                data.points);
  }
  NormalizeRows(data.points, d);
  std::uniform_int_distribution<int64_t> pick_point(0, num_points - 1);
  for (int q = 0; q < options.num_queries; ++q) {
    if (q % 2 == 0) {
      AppendNoisy(rng, &data.points[pick_point(rng) * d], spectrum, options.query_noise,
                  data.queries);
      data.query_kind.push_back("near");
    } else {
      AppendNoisy(rng, &centres[pick_cluster(rng) * d], spectrum, options.cluster_noise,
                  data.queries);
      data.query_kind.push_back("fresh");
    }
  }
  NormalizeRows(data.queries, d);
  return data;
}

// Raw float32 rows of options.dimensions; the last num_queries rows are held out as queries.
std::optional<Dataset> FromFile(const BenchOptions& options, int64_t max_points) {
  std::ifstream in(options.vectors_path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const int d = options.dimensions;
  const int64_t num_rows = static_cast<int64_t>(in.tellg()) / (4 * d);
  if (num_rows <= options.num_queries) return std::nullopt;
  std::vector<float> rows(num_rows * d);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(rows.data()), static_cast<std::streamsize>(rows.size() * 4));
  if (!in) return std::nullopt;
  NormalizeRows(rows, d);
  Dataset data{.dimensions = d};
  data.num_points = std::min<int64_t>(max_points, num_rows - options.num_queries);
  data.queries.assign(rows.end() - int64_t{options.num_queries} * d, rows.end());
  rows.resize(data.num_points * d);
  data.points = std::move(rows);
  data.query_kind.assign(options.num_queries, "real");
  return data;
}

// Value keys carry the point's row number in their first bytes.
CacheKey RowKey(int64_t row) {
  CacheKey key;
  for (int i = 0; i < 8; ++i) key.bytes[i] = static_cast<uint8_t>(uint64_t(row) >> (8 * i));
  return key;
}
int64_t KeyRow(const CacheKey& key) {
  uint64_t row = 0;
  for (int i = 0; i < 8; ++i) row |= uint64_t{key.bytes[i]} << (8 * i);
  return static_cast<int64_t>(row);
}

struct Truth {
  std::vector<int64_t> best_row;  // [num_queries]
  std::vector<float> best_similarity;
};

Truth ExactSearch(const Dataset& data) {
  const size_t num_queries = data.query_kind.size();
  Truth truth{std::vector<int64_t>(num_queries), std::vector<float>(num_queries)};
  faiss::knn_inner_product(data.queries.data(), data.points.data(), data.dimensions, num_queries,
                           data.num_points, 1, truth.best_similarity.data(),
                           truth.best_row.data());
  return truth;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

struct Row {
  std::string mode;
  int64_t entries = 0;
  int working_dimensions = 0;
  double build_s = 0;
  double inserts_per_s = 0;
  double p50_us = 0, p99_us = 0;
  // recall@1 per query kind, and agreement of the hit/miss decision (and the value on a hit)
  // with the exact search at the threshold.
  std::vector<std::pair<std::string, double>> recall = {};
  double agreement = 0;
};

Row RunMode(const BenchOptions& options, const std::string& mode, const Dataset& data,
            const Truth& truth) {
  SemanticIndex index({
      .dimensions = data.dimensions,
      .hnsw_min_entries = mode == "flat" ? INT32_MAX : 2048,
      .hnsw_m = options.hnsw_m,
      .hnsw_ef_construction = options.hnsw_ef_construction,
      .hnsw_ef_search = options.hnsw_ef_search,
      .max_entries = data.num_points + 1,
      .pca_dimensions = mode == "pca" ? options.pca_dimensions : 0,
      .pca_train_entries = options.pca_train_entries,
  });
  const CacheKey ns = cache::Sha256Key("bench-namespace");
  const int d = data.dimensions;
  const auto build_start = std::chrono::steady_clock::now();
  const int64_t progress_every = std::max<int64_t>(1, data.num_points / 10);
  for (int64_t i = 0; i < data.num_points; ++i) {
    if (!index.Insert(ns, {&data.points[i * d], size_t(d)}, RowKey(i), SemanticIndex::kNoExpiry)) {
      std::cerr << "insert " << i << " failed\n";
    }
    if ((i + 1) % progress_every == 0) {
      const double s = Seconds(build_start);
      std::fprintf(stderr, "  [%s N=%lld] %lld inserted, %.1f s, %.0f/s\n", mode.c_str(),
                   (long long)data.num_points, (long long)(i + 1), s, (i + 1) / s);
    }
  }
  Row row{.mode = mode, .entries = data.num_points};
  row.build_s = Seconds(build_start);
  row.inserts_per_s = data.num_points / row.build_s;
  row.working_dimensions = index.GetStats().working_dimensions;

  const size_t num_queries = data.query_kind.size();
  std::vector<double> latency_us(num_queries);
  std::vector<std::optional<SemanticIndex::Match>> best(num_queries);
  for (size_t q = 0; q < num_queries; ++q) {
    const auto start = std::chrono::steady_clock::now();
    // Threshold -1 returns the best entry whatever its similarity: recall@1.
    best[q] = index.Lookup(ns, {&data.queries[q * d], size_t(d)}, -1.0f);
    latency_us[q] = Seconds(start) * 1e6;
  }
  int agree = 0;
  for (size_t q = 0; q < num_queries; ++q) {
    const auto at_threshold = index.Lookup(ns, {&data.queries[q * d], size_t(d)},
                                           options.threshold);
    const bool exact_hit = truth.best_similarity[q] >= options.threshold;
    if (at_threshold.has_value() == exact_hit &&
        (!exact_hit || KeyRow(at_threshold->value) == truth.best_row[q])) {
      ++agree;
    }
  }
  row.agreement = double(agree) / num_queries;
  std::vector<double> sorted = latency_us;
  std::sort(sorted.begin(), sorted.end());
  row.p50_us = sorted[num_queries / 2];
  row.p99_us = sorted[std::min(num_queries - 1, num_queries * 99 / 100)];
  std::vector<std::string> kinds;
  for (const std::string& kind : data.query_kind) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  }
  for (const std::string& kind : kinds) {
    int total = 0, found = 0;
    for (size_t q = 0; q < num_queries; ++q) {
      if (data.query_kind[q] != kind) continue;
      ++total;
      if (best[q] && KeyRow(best[q]->value) == truth.best_row[q]) ++found;
    }
    row.recall.push_back({kind, double(found) / total});
  }
  return row;
}

void PrintTable(const BenchOptions& options, const std::vector<Row>& rows) {
  std::printf("\n| mode | entries | dims | build s | inserts/s | lookup p50 us | lookup p99 us |");
  for (const auto& [kind, value] : rows.front().recall) std::printf(" recall@1 %s |", kind.c_str());
  std::printf(" agree@%.2f |\n|---|---:|---:|---:|---:|---:|---:|", options.threshold);
  for (size_t i = 0; i < rows.front().recall.size(); ++i) std::printf("---:|");
  std::printf("---:|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %lld | %d | %.1f | %.0f | %.1f | %.1f |", row.mode.c_str(),
                (long long)row.entries, row.working_dimensions, row.build_s, row.inserts_per_s,
                row.p50_us, row.p99_us);
    for (const auto& [kind, value] : row.recall) std::printf(" %.4f |", value);
    std::printf(" %.4f |\n", row.agreement);
  }
}

int Main(int argc, char** argv) {
  BenchOptions options;
  CLI::App app{"Speed and recall of the semantic cache index"};
  app.add_option("--entries", options.entries, "namespace sizes to run (e.g. 10000 1000000)");
  app.add_option("--modes", options.modes, "flat, hnsw, pca (HNSW over PCA-reduced vectors)");
  app.add_option("--dim", options.dimensions, "vector dimensions");
  app.add_option("--queries", options.num_queries, "lookups timed per run");
  app.add_option("--points-per-cluster", options.points_per_cluster);
  app.add_option("--cluster-noise", options.cluster_noise);
  app.add_option("--query-noise", options.query_noise);
  app.add_option("--spectrum-decay", options.spectrum_decay,
                 "variance of coordinate i ~ (i + 1)^(-2 decay); 0 = isotropic");
  app.add_option("--threshold", options.threshold, "similarity threshold for agree@");
  app.add_option("--pca-dim", options.pca_dimensions);
  app.add_option("--pca-train", options.pca_train_entries);
  app.add_option("--hnsw-m", options.hnsw_m);
  app.add_option("--ef-construction", options.hnsw_ef_construction);
  app.add_option("--ef-search", options.hnsw_ef_search);
  app.add_option("--flat-max", options.flat_max_entries, "skip flat above this many entries");
  app.add_option("--vectors", options.vectors_path, "raw float32 file of real embeddings");
  app.add_option("--seed", options.seed);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::fprintf(stderr,
               "semantic bench: dim=%d queries=%d decay=%.2f hnsw m=%d efC=%d efS=%d pca=%d "
               "(train %d) threshold=%.2f%s%s\n",
               options.dimensions, options.num_queries, options.spectrum_decay, options.hnsw_m,
               options.hnsw_ef_construction, options.hnsw_ef_search, options.pca_dimensions,
               options.pca_train_entries, options.threshold,
               options.vectors_path.empty() ? "" : " vectors=", options.vectors_path.c_str());
  std::vector<Row> rows;
  for (const int64_t entries : options.entries) {
    auto start = std::chrono::steady_clock::now();
    std::optional<Dataset> data = options.vectors_path.empty()
                                      ? std::optional<Dataset>(Synthetic(options, entries))
                                      : FromFile(options, entries);
    if (!data) {
      std::fprintf(stderr, "cannot read %s as float32 rows of %d with more than %d rows\n",
                   options.vectors_path.c_str(), options.dimensions, options.num_queries);
      return 1;
    }
    std::fprintf(stderr, "data: %lld points, %zu queries, %.1f s\n", (long long)data->num_points,
                 data->query_kind.size(), Seconds(start));
    start = std::chrono::steady_clock::now();
    const Truth truth = ExactSearch(*data);
    std::fprintf(stderr, "exact search: %.1f s\n", Seconds(start));
    for (const std::string& mode : options.modes) {
      if (mode != "flat" && mode != "hnsw" && mode != "pca") {
        std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
        return 1;
      }
      if (mode == "flat" && data->num_points > options.flat_max_entries) continue;
      if (mode == "pca" && (options.pca_dimensions <= 0 ||
                            options.pca_dimensions >= options.dimensions ||
                            options.pca_train_entries < options.pca_dimensions)) {
        std::fprintf(stderr, "skipping pca: --pca-dim must be in (0, --dim) and <= --pca-train\n");
        continue;
      }
      rows.push_back(RunMode(options, mode, *data, truth));
      const Row& row = rows.back();
      std::fprintf(stderr, "%s N=%lld: build %.1f s, p50 %.1f us, p99 %.1f us, agree %.4f\n",
                   mode.c_str(), (long long)row.entries, row.build_s, row.p50_us, row.p99_us,
                   row.agreement);
    }
  }
  if (!rows.empty()) PrintTable(options, rows);
  return 0;
}

}  // namespace
}  // namespace brisk::bench

int main(int argc, char** argv) { return brisk::bench::Main(argc, argv); }
