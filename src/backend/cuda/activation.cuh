// Element-wise f32 kernels: SiLU-and-multiply and addition of the decoder, GELU of the
// encoders. The host launchers take raw device pointers (any shape, contiguous; SiluMul's
// input is the fused [rows, 2 * dim] gate | up projection) and a stream, queue one grid-stride
// kernel and return at once; they match Backend::SiluMul, Backend::Add and Backend::Gelu
// (backend/backend.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// out[r, c] = silu(gate_up[r, c]) * gate_up[r, dim + c], silu(g) = g / (1 + exp(-g)).
// gate_up: [rows, 2 * dim] device; out: [rows, dim] device, not overlapping gate_up.
// REQUIRES: rows, dim >= 0 (an empty output launches nothing).
void LaunchSiluMul(const float* gate_up, float* out, int64_t rows, int64_t dim,
                   cudaStream_t stream);
// The same with out [rows, dim] bf16 (each result rounded to nearest even): the input of a
// bf16 GEMM.
void LaunchSiluMulToBf16(const float* gate_up, void* out_bf16, int64_t rows, int64_t dim,
                         cudaStream_t stream);
// The same with gate_up [rows, 2 * dim] bf16 too (SiLU computed in f32 from the bf16 inputs).
void LaunchSiluMulBf16(const void* gate_up_bf16, void* out_bf16, int64_t rows, int64_t dim,
                       cudaStream_t stream);

// out[i] = a[i] + b[i], one f32 addition (bit-exact with the host).
// a, b, out: [num_elements] device; out may alias a or b.
// REQUIRES: num_elements >= 0 (0 launches nothing).
void LaunchAdd(const float* a, const float* b, float* out, int64_t num_elements,
               cudaStream_t stream);

// Which GELU: kErf is the exact x·Φ(x) (torch "none"), kTanh the tanh approximation (torch
// "tanh", the "gelu_new" of Hugging Face configs).
enum class GeluForm { kErf, kTanh };

// out[i] = gelu(x[i]) in the given form.
// x, out: [num_elements] device; out may alias x.
// REQUIRES: num_elements >= 0 (0 launches nothing).
void LaunchGelu(const float* x, float* out, int64_t num_elements, GeluForm form,
                cudaStream_t stream);

}  // namespace brisk::backend::cuda
