"""Failure codes and the verifier version (standard library only: GPU workers import this)."""

# 0.3: kernel ablation, OS sandbox, domain-kept inputs, fresh timing inputs;
# 0.3.1: a smaller resized batch, inputs drawn on the GPU, outputs compared in chunks;
# 0.3.2: compile caches of its own for every candidate, the torch.compile baseline's seeded
# from a trusted compile per problem (no candidate can plant artifacts for another);
# 0.3.3: the baseline writes its caches where they stay (its compiles still failed on the H200);
# 0.3.4: a seeded candidate sees its copy at the problem's path (0.3.2-0.3.3: most GPU verdicts
# lost speedup_compile to a failed seeded compile: RESULTS.md, session 15)
VERIFIER_VERSION = "0.3.4"

# static stage
NO_CODE = "NO_CODE"                        # the completion holds no program
PARSE_ERROR = "PARSE_ERROR"                # the program does not parse
NO_MODELNEW = "NO_MODELNEW"                # no class ModelNew
NO_KERNEL = "NO_KERNEL"                    # no @triton.jit kernel
UNREACHABLE_KERNEL = "UNREACHABLE_KERNEL"  # verifier < 0.3 only: launches are now counted at run time
FORBIDDEN_IMPORT = "FORBIDDEN_IMPORT"      # a module whose effects the run cannot observe (static.py)
FORBIDDEN_CALL = "FORBIDDEN_CALL"          # eval/exec, built names, introspection, torch internals
TRY_EXCEPT = "TRY_EXCEPT"                  # verifier < 0.3 only: try/except is allowed now
USES_REFERENCE = "USES_REFERENCE"          # calls or subclasses the reference Model
SIDE_STREAM = "SIDE_STREAM"                # threads or CUDA streams
PATCHING = "PATCHING"                      # assigns into torch/triton/time/... modules
TORCH_OPS = "TORCH_OPS"                    # torch compute ops in forward (unless lenient)
# compile and run stage
REFERENCE_ERROR = "REFERENCE_ERROR"        # the reference itself failed: the problem is broken
COMPILE_ERROR = "COMPILE_ERROR"            # the program or a kernel failed to build
RUNTIME_ERROR = "RUNTIME_ERROR"            # forward raised
STATE_DICT_MISMATCH = "STATE_DICT_MISMATCH"  # reference weights do not load into ModelNew
CRASH = "CRASH"                            # the sandbox process died
TIMEOUT = "TIMEOUT"                        # the sandbox process ran past its time limit
OOM = "OOM"                                # out of memory
# correctness stage
NO_TRITON_LAUNCH = "NO_TRITON_LAUNCH"      # forward launched no Triton kernel
MISMATCH = "MISMATCH"                      # outputs differ beyond tolerance
NONFINITE = "NONFINITE"                    # NaN or Inf where the reference is finite
SHAPE_MISMATCH = "SHAPE_MISMATCH"          # output structure, shape or dtype differs
INPUT_MUTATION = "INPUT_MUTATION"          # forward changed its inputs
OUTPUT_ALIAS = "OUTPUT_ALIAS"              # an output shares storage with an input
NOT_A_TENSOR = "NOT_A_TENSOR"              # an output is a tensor subclass, lazy or storage-less
HOST_COMPUTE = "HOST_COMPUTE"              # forward built tensors from host values (lists, NumPy, .item())
INTERPRETER_UNSUPPORTED = "INTERPRETER_UNSUPPORTED"  # Triton's CPU interpreter cannot run the kernel
AUTOTUNE_TIMEOUT = "AUTOTUNE_TIMEOUT"      # compiling and autotuning ran past their own budget
# provenance stage
KERNEL_NOT_USED = "KERNEL_NOT_USED"        # outputs stay correct with the candidate's kernels ablated
# sandbox
SANDBOX_VIOLATION = "SANDBOX_VIOLATION"    # tried to read or write outside its directory, or the network

STAGES = ("static", "compile", "correctness", "provenance", "timing")
