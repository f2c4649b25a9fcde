// KV-cache write kernel: a grid-stride loop over every (token, element) of k and v.
#include "backend/cuda/kv_cache.cuh"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

__global__ void WriteKvCacheKernel(const float* __restrict__ k,  // [num_tokens, token_elems]
                                   const float* __restrict__ v,  // [num_tokens, token_elems]
                                   const int32_t* __restrict__ slot_mapping,  // [num_tokens]
                                   float* __restrict__ k_cache,  // [num_slots, token_elems]
                                   float* __restrict__ v_cache,  // [num_slots, token_elems]
                                   int64_t token_elems, int64_t num_slots, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < num_elements;
       e += stride) {
    const int64_t t = e / token_elems;
    const int64_t i = e % token_elems;
    const int32_t slot = slot_mapping[t];
    BRISK_DEVICE_CHECK(slot >= -1 && slot < num_slots,
                       "write_kv_cache: slot %d at %lld, %lld slots", slot,
                       static_cast<long long>(t), static_cast<long long>(num_slots));
    if (slot == -1) continue;
    const int64_t dst = static_cast<int64_t>(slot) * token_elems + i;
    k_cache[dst] = k[e];
    v_cache[dst] = v[e];
  }
}

}  // namespace

void LaunchWriteKvCache(const WriteKvCacheArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.num_tokens >= 0 && args.token_elems >= 0 && args.num_slots >= 0);
  const int64_t num_elements = args.num_tokens * args.token_elems;
  if (num_elements == 0) return;
  WriteKvCacheKernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(
      args.k, args.v, args.slot_mapping, args.k_cache, args.v_cache, args.token_elems,
      args.num_slots, num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
