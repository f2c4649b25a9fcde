// Embedding gather kernel: a grid-stride loop over every output element; element (t, i) reads
// table[ids[t], i] and widens it to f32 (exact for bf16 and f16).
#include "backend/cuda/embedding.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dtype_util.cuh"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

template <typename T>
__global__ void EmbeddingKernel(const T* __restrict__ table,        // [vocab, hidden]
                                const int32_t* __restrict__ ids,    // [num_tokens]
                                float* __restrict__ out,            // [num_tokens, hidden]
                                int64_t vocab, int64_t hidden, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < num_elements;
       e += stride) {
    const int64_t t = e / hidden;
    const int64_t i = e % hidden;
    const int32_t id = ids[t];
    BRISK_DEVICE_CHECK(id >= 0 && id < vocab, "embedding: token id %d at %lld, vocab %lld", id,
                       static_cast<long long>(t), static_cast<long long>(vocab));
    out[e] = ToF32(table[static_cast<int64_t>(id) * hidden + i]);
  }
}

template <typename T>
void Launch(const EmbeddingArgs& args, int64_t num_elements, cudaStream_t stream) {
  EmbeddingKernel<T><<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(
      static_cast<const T*>(args.table), args.ids, args.out, args.vocab, args.hidden,
      num_elements);
}

}  // namespace

void LaunchEmbedding(const EmbeddingArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.num_tokens >= 0 && args.hidden >= 0 && args.vocab >= 0);
  const int64_t num_elements = args.num_tokens * args.hidden;
  if (num_elements == 0) return;
  switch (args.table_dtype) {
    case tensor::DType::kF32:
      Launch<float>(args, num_elements, stream);
      break;
    case tensor::DType::kBF16:
      Launch<__nv_bfloat16>(args, num_elements, stream);
      break;
    case tensor::DType::kF16:
      Launch<__half>(args, num_elements, stream);
      break;
    case tensor::DType::kF64:
    case tensor::DType::kI32:
    case tensor::DType::kI64:
      BRISK_CHECK(false) << "embedding table dtype " << tensor::DTypeName(args.table_dtype);
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
