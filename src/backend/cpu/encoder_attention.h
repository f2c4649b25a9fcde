// Bidirectional attention of the BERT-family encoders on the CPU (see
// Backend::EncoderAttention in backend/backend.h for the semantics).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/reference/op_checks.h"
#include "backend/cpu/workspace.h"

namespace brisk::backend::cpu {

// out = softmax(q·Kᵀ·scale) · V within each sequence, per head, over every key of the sequence.
// REQUIRES: arguments validated by CheckEncoderAttention, which returned `dims`; max_seq_len
// >= the longest sequence (it sizes the scratch).
// q, out: [num_tokens, num_heads, head_dim]; k, v: [num_tokens, num_kv_heads, head_dim];
// seq_starts: [num_seqs + 1] i32
void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& seq_starts,
                      int max_seq_len, float scale, const EncoderAttentionDims& dims,
                      int num_threads, Workspace* workspace, Tensor* out);

}  // namespace brisk::backend::cpu
