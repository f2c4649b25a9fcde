#include "models/layers/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace brisk::models {
namespace {

using loader::RopeConfig;
using loader::RopeType;

// base ** (2i / dim), evaluated in f32 as torch does for `base ** float_tensor`.
std::vector<float> DefaultInvFreq(double theta, int dim) {
  std::vector<float> inv(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / std::pow(static_cast<float>(theta), exponent);
  }
  return inv;
}

// Llama 3.1 scaling: long wavelengths are divided by `factor`, short ones kept, and the band in
// between interpolated smoothly (Meta's reference formula).
void ApplyLlama3(const RopeConfig& rope, std::vector<float>& inv) {
  const float factor = static_cast<float>(rope.factor);
  const float low = static_cast<float>(rope.low_freq_factor);
  const float high = static_cast<float>(rope.high_freq_factor);
  const float old_context = static_cast<float>(rope.original_max_position_embeddings);
  const float low_freq_wavelen = old_context / low;
  const float high_freq_wavelen = old_context / high;
  for (float& f : inv) {
    float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    if (wavelen > low_freq_wavelen) {
      f = f / factor;
    } else if (wavelen >= high_freq_wavelen) {  // medium band
      float smooth = (old_context / wavelen - low) / (high - low);
      f = (1.0f - smooth) * f / factor + smooth * f;
    }
  }
}

double YarnMscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// YaRN: blends interpolated and extrapolated frequencies with a linear ramp over the dimensions
// between the correction range given by beta_fast / beta_slow rotations.
float ApplyYarn(const RopeConfig& rope, int dim, int max_position_embeddings,
                std::vector<float>& inv) {
  const double factor = rope.factor;
  const double base = rope.theta;
  const int original_max = rope.original_max_position_embeddings > 0
                               ? rope.original_max_position_embeddings
                               : max_position_embeddings;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(original_max / (rotations * 2.0 * std::numbers::pi)) /
           (2.0 * std::log(base));
  };
  double low = std::max(std::floor(correction_dim(rope.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(rope.beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoid a zero-width ramp
  for (int i = 0; i < dim / 2; ++i) {
    float pos_freq = std::pow(static_cast<float>(base), static_cast<float>(2 * i) / dim);
    float extrapolation = 1.0f / pos_freq;
    float interpolation = 1.0f / (static_cast<float>(factor) * pos_freq);
    float ramp = static_cast<float>((static_cast<float>(i) - low) / (high - low));
    ramp = std::clamp(ramp, 0.0f, 1.0f);
    float extrapolation_weight = 1.0f - ramp;
    inv[i] = interpolation * (1.0f - extrapolation_weight) + extrapolation * extrapolation_weight;
  }
  if (rope.attention_factor > 0.0) return static_cast<float>(rope.attention_factor);
  if (rope.mscale > 0.0 && rope.mscale_all_dim > 0.0) {
    return static_cast<float>(YarnMscale(factor, rope.mscale) /
                              YarnMscale(factor, rope.mscale_all_dim));
  }
  return static_cast<float>(YarnMscale(factor, 1.0));
}

}  // namespace

int RotaryDim(const RopeConfig& rope, int head_dim) {
  return static_cast<int>(head_dim * rope.partial_rotary_factor);
}

absl::StatusOr<RopeFrequencies> ComputeRopeFrequencies(const RopeConfig& rope, int head_dim,
                                                       int max_position_embeddings) {
  const int dim = RotaryDim(rope, head_dim);
  RopeFrequencies out;
  out.inv_freq = DefaultInvFreq(rope.theta, dim);
  switch (rope.type) {
    case RopeType::kDefault:
      break;
    case RopeType::kDynamic:
      // Dynamic NTK only rescales beyond max_position_embeddings, which brisk never serves, so
      // within the context it is exactly the default.
      break;
    case RopeType::kLinear:
      for (float& f : out.inv_freq) f /= static_cast<float>(rope.factor);
      break;
    case RopeType::kLlama3:
      ApplyLlama3(rope, out.inv_freq);
      break;
    case RopeType::kYarn:
      out.attention_scaling = ApplyYarn(rope, dim, max_position_embeddings, out.inv_freq);
      break;
  }
  return out;
}

tensor::Tensor BuildRopeTable(const RopeFrequencies& freqs, int max_positions) {
  const int half = static_cast<int>(freqs.inv_freq.size());
  tensor::Tensor table = tensor::Tensor::Empty(tensor::DType::kF32, {max_positions, 2 * half});
  float* t = table.data<float>();
  for (int p = 0; p < max_positions; ++p) {
    for (int i = 0; i < half; ++i) {
      float angle = static_cast<float>(p) * freqs.inv_freq[i];  // one f32 product, as torch
      t[p * 2 * half + i] = std::cos(angle) * freqs.attention_scaling;
      t[p * 2 * half + half + i] = std::sin(angle) * freqs.attention_scaling;
    }
  }
  return table;
}

}  // namespace brisk::models
