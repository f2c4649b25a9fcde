// cuBLASLt GEMM (gemm.h). Descriptors and the chosen algorithm are built once per shape and
// alignment (a Plan) and reused by every later call with the same key.
#include "backend/cuda/gemm.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

[[noreturn]] void CublasCheckFailed(const char* statement, const char* file, int line,
                                    cublasStatus_t status, const GemmArgs* args) {
  std::fprintf(stderr, "%s:%d: cuBLASLt call failed: %s: %s (%s)", file, line, statement,
               cublasLtGetStatusName(status), cublasLtGetStatusString(status));
  if (args != nullptr) {
    std::fprintf(stderr, " [gemm m=%lld n=%lld k=%lld input %s]",
                 static_cast<long long>(args->m), static_cast<long long>(args->n),
                 static_cast<long long>(args->k),
                 std::string(tensor::DTypeName(args->input_dtype)).c_str());
  }
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

// For cuBLASLt calls that cannot fail with valid arguments; `args` names the shape.
#define BRISK_CUBLAS_CHECK(call, args)                                        \
  do {                                                                        \
    const cublasStatus_t brisk_cublas_status_ = (call);                       \
    if (brisk_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                      \
      CublasCheckFailed(#call, __FILE__, __LINE__, brisk_cublas_status_, args); \
    }                                                                         \
  } while (false)

// The largest power of two (at most 256, cuBLASLt's default assumption) dividing `p`. The
// heuristic must be told, or it may pick a kernel that needs 16-byte aligned rows.
uint32_t AlignmentBytes(const void* p) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  uint32_t alignment = 1;
  while (alignment < 256 && address % (alignment * 2) == 0) alignment *= 2;
  return alignment;
}

// Owns the descriptors of one call.
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr;  // w
  cublasLtMatrixLayout_t b = nullptr;  // x
  cublasLtMatrixLayout_t c = nullptr;  // y (also D)
  cublasLtMatmulPreference_t preference = nullptr;
  ~Descriptors() {
    if (preference != nullptr) cublasLtMatmulPreferenceDestroy(preference);
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
  }
};

}  // namespace

// The descriptors and algorithm of one PlanKey; `supported` is false when cuBLASLt has none.
struct LtGemm::Plan {
  Descriptors d;
  cublasLtMatmulAlgo_t algo{};
  bool supported = false;
};

absl::Status LtGemm::Init(void* workspace, size_t workspace_bytes) {
  BRISK_CHECK(handle_ == nullptr) << "LtGemm::Init called twice";
  const cublasStatus_t status = cublasLtCreate(&handle_);
  if (status != CUBLAS_STATUS_SUCCESS) {
    handle_ = nullptr;
    return absl::InternalError(absl::StrCat("cublasLtCreate failed: ",
                                            cublasLtGetStatusName(status), ": ",
                                            cublasLtGetStatusString(status)));
  }
  workspace_ = workspace;
  workspace_bytes_ = workspace_bytes;
  return absl::OkStatus();
}

LtGemm::LtGemm() = default;  // here, where Plan is complete

LtGemm::~LtGemm() {
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

const LtGemm::Plan* LtGemm::FindOrBuildPlan(const GemmArgs& args) {
  const uint32_t align_a = AlignmentBytes(args.w);
  const uint32_t align_b = AlignmentBytes(args.x);
  const uint32_t align_c = AlignmentBytes(args.y);
  const PlanKey key{args.m,           args.n,  args.k,  args.input_dtype,
                    args.output_dtype, align_a, align_b, align_c};
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  Descriptors& d = plan->d;
  const cudaDataType_t input_type =
      args.input_dtype == tensor::DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  const uint64_t m = static_cast<uint64_t>(args.m);
  const uint64_t n = static_cast<uint64_t>(args.n);
  const uint64_t k = static_cast<uint64_t>(args.k);

  BRISK_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), &args);
  const cublasOperation_t transa = CUBLAS_OP_T;
  const cublasOperation_t transb = CUBLAS_OP_N;
  BRISK_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                    sizeof(transa)),
                     &args);
  BRISK_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                    sizeof(transb)),
                     &args);
  // Layouts describe the stored (column-major) matrices before op(): see gemm.h.
  BRISK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.a, input_type, k, n, args.k), &args);
  BRISK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.b, input_type, k, m, args.k), &args);
  const cudaDataType_t output_type =
      args.output_dtype == tensor::DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  BRISK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.c, output_type, n, m, args.n), &args);

  BRISK_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&d.preference), &args);
  const uint64_t workspace_bytes = workspace_bytes_;
  BRISK_CUBLAS_CHECK(
      cublasLtMatmulPreferenceSetAttribute(d.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &workspace_bytes, sizeof(workspace_bytes)),
      &args);
  BRISK_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
                         d.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                         sizeof(align_a)),
                     &args);
  BRISK_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
                         d.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                         sizeof(align_b)),
                     &args);
  BRISK_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
                         d.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c,
                         sizeof(align_c)),
                     &args);
  BRISK_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
                         d.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c,
                         sizeof(align_c)),
                     &args);

  cublasLtMatmulHeuristicResult_t heuristic{};
  int num_results = 0;
  const cublasStatus_t heuristic_status = cublasLtMatmulAlgoGetHeuristic(
      handle_, d.op, d.a, d.b, d.c, d.c, d.preference, 1, &heuristic, &num_results);
  plan->supported = heuristic_status != CUBLAS_STATUS_NOT_SUPPORTED && num_results > 0 &&
                    heuristic.state == CUBLAS_STATUS_SUCCESS;
  if (plan->supported) {
    BRISK_CUBLAS_CHECK(heuristic_status, &args);
    plan->algo = heuristic.algo;
  }
  return plans_.emplace(key, std::move(plan)).first->second.get();
}

bool LtGemm::Run(const GemmArgs& args, cudaStream_t stream) {
  BRISK_CHECK(handle_ != nullptr) << "LtGemm used before Init";
  BRISK_CHECK(args.m > 0 && args.n > 0 && args.k > 0)
      << "gemm m " << args.m << " n " << args.n << " k " << args.k;
  BRISK_CHECK(args.input_dtype == tensor::DType::kF32 || args.input_dtype == tensor::DType::kBF16)
      << "gemm input " << tensor::DTypeName(args.input_dtype);
  BRISK_CHECK(args.output_dtype == tensor::DType::kF32 ||
              (args.output_dtype == tensor::DType::kBF16 &&
               args.input_dtype == tensor::DType::kBF16 && !args.accumulate))
      << "gemm output " << tensor::DTypeName(args.output_dtype);
  const Plan* plan = FindOrBuildPlan(args);
  if (!plan->supported) return false;
  const float alpha = 1.0f;
  const float beta = args.accumulate ? 1.0f : 0.0f;
  const Descriptors& d = plan->d;
  BRISK_CUBLAS_CHECK(cublasLtMatmul(handle_, d.op, &alpha, args.w, d.a, args.x, d.b, &beta, args.y,
                                    d.c, args.y, d.c, &plan->algo, workspace_,
                                    workspace_bytes_, stream),
                     &args);
  return true;
}

}  // namespace brisk::backend::cuda
