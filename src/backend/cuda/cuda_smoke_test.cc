// Smoke test of the CUDA backend pieces on a real device: QueryDevice, then RMSNorm and SiluMul
// on random data against host loops. Skips itself on machines without a CUDA device.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "backend/cuda/activation.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/norm.cuh"
#include "gtest/gtest.h"

namespace brisk::backend::cuda {
namespace {

constexpr char kNoDeviceMessage[] =
    "no CUDA device (GPU tests run on the device machine; CUDA issue)";

std::vector<float> RandomVector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Owns one device allocation holding a copy of `host`.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<float>& host) : size_(host.size()) {
    BRISK_CUDA_CHECK(cudaMalloc(&data_, size_ * sizeof(float)));
    BRISK_CUDA_CHECK(cudaMemcpy(data_, host.data(), size_ * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  float* data() { return data_; }
  std::vector<float> ToHost() const {
    std::vector<float> host(size_);
    BRISK_CUDA_CHECK(cudaMemcpy(host.data(), data_, size_ * sizeof(float), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  float* data_ = nullptr;
  size_t size_;
};

class CudaSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<DeviceInfo> info = QueryDevice(0);
    if (!info.ok()) GTEST_SKIP() << kNoDeviceMessage << ": " << info.status();
    std::printf("device: %s\n", DeviceInfoToString(*info).c_str());
  }
};

TEST_F(CudaSmokeTest, QueryDeviceDescribesDevice) {
  absl::StatusOr<DeviceInfo> info = QueryDevice(0);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->name.empty());
  EXPECT_GE(info->compute_capability_major, 7);  // Volta is the oldest CUDA 13 target
  EXPECT_GT(info->num_sms, 0);
  EXPECT_GT(info->total_memory_bytes, 0);
  EXPECT_LE(info->free_memory_bytes, info->total_memory_bytes);
  EXPECT_EQ(QueryDevice(-1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(QueryDevice(1 << 20).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(CudaSmokeTest, RmsNormMatchesHostLoop) {
  // Awkward widths: below one warp, not a multiple of 32, and wider than one block pass.
  for (int hidden : {5, 127, 4096, 5003}) {
    const int num_rows = 7;
    const float eps = 1e-5f;
    const std::vector<float> x = RandomVector(static_cast<size_t>(num_rows) * hidden, 1);
    const std::vector<float> weight = RandomVector(hidden, 2);
    DeviceBuffer d_x(x);
    DeviceBuffer d_weight(weight);
    DeviceBuffer d_out(std::vector<float>(x.size(), 0.0f));
    LaunchRmsNorm({.x = d_x.data(), .weight = d_weight.data(), .out = d_out.data(),
                   .num_rows = num_rows, .hidden = hidden, .eps = eps},
                  nullptr);
    BRISK_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> out = d_out.ToHost();
    for (int r = 0; r < num_rows; ++r) {
      double sum_squares = 0.0;
      for (int i = 0; i < hidden; ++i) sum_squares += double{x[r * hidden + i]} * x[r * hidden + i];
      const double inv_rms = 1.0 / std::sqrt(sum_squares / hidden + eps);
      for (int i = 0; i < hidden; ++i) {
        const double expected = x[r * hidden + i] * inv_rms * weight[i];
        // f32 accumulation over <= 5003 terms: relative error of a few 1e-6 per output; 1e-4
        // relative plus 1e-5 absolute leaves an order of magnitude of headroom.
        ASSERT_NEAR(out[r * hidden + i], expected, 1e-5 + 1e-4 * std::fabs(expected))
            << "hidden " << hidden << " row " << r << " col " << i;
      }
    }
  }
}

TEST_F(CudaSmokeTest, RmsNormInPlace) {
  const int hidden = 300;
  std::vector<float> x = RandomVector(2 * hidden, 3);
  const std::vector<float> weight(hidden, 1.0f);
  DeviceBuffer d_x(x);
  DeviceBuffer d_weight(weight);
  LaunchRmsNorm({.x = d_x.data(), .weight = d_weight.data(), .out = d_x.data(), .num_rows = 2,
                 .hidden = hidden, .eps = 0.0f},
                nullptr);
  BRISK_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> out = d_x.ToHost();
  for (int r = 0; r < 2; ++r) {  // unit weight and no eps: each row has mean square 1
    double mean_square = 0.0;
    for (int i = 0; i < hidden; ++i) {
      mean_square += double{out[r * hidden + i]} * out[r * hidden + i];
    }
    EXPECT_NEAR(mean_square / hidden, 1.0, 1e-5) << "row " << r;
  }
}

TEST_F(CudaSmokeTest, SiluMulMatchesHostLoop) {
  // {rows, dim}: one element, a decode row, more rows than gridDim.y holds (65535).
  const int64_t shapes[][2] = {{1, 1}, {1, 1000}, {70001, 3}, {3, 1024 * 1024 + 7}};
  for (const auto& [rows, dim] : shapes) {
    const std::vector<float> gate_up = RandomVector(rows * 2 * dim, 4);
    DeviceBuffer d_gate_up(gate_up);
    DeviceBuffer d_out(std::vector<float>(rows * dim, 0.0f));
    LaunchSiluMul(d_gate_up.data(), d_out.data(), rows, dim, nullptr);
    BRISK_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> out = d_out.ToHost();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < dim; ++c) {
        const double g = gate_up[r * 2 * dim + c];
        const double expected = g / (1.0 + std::exp(-g)) * gate_up[r * 2 * dim + dim + c];
        // expf is within 2 ulp on device; three f32 roundings on top: 1e-6 relative is ample.
        ASSERT_NEAR(out[r * dim + c], expected, 1e-6 + 1e-5 * std::fabs(expected))
            << "rows " << rows << " dim " << dim << " at " << r << ", " << c;
      }
    }
  }
}

}  // namespace
}  // namespace brisk::backend::cuda
