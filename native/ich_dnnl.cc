// Native 3D convolution (Debian's oneDNN) and pooling kernels (libdnnl, what PyTorch uses on the CPU), for the CPU backends.
// Optional: src/ops/native-dnnl.ts loads this addon when it was built, and the TypeScript ops remain the fallback.
//
// Layouts are the project's: activations NDHWC (channels last), weights [kD, kH, kW, Cin, Cout] (oneDNN "dhwio").
// oneDNN may prefer blocked weights; they are reordered on every call because training changes them each step.
// Primitives are cached per thread (each fold worker is its own thread) and per shape.
#include <node_api.h>
#include <omp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

enum class Op { Forward, BackwardData, BackwardWeights };

struct Geometry {
  int64_t n, d, h, w, cin, cout, k, stride, pad;
  int64_t od() const { return (d + 2 * pad - k) / stride + 1; }
  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  int64_t srcSize() const { return n * d * h * w * cin; }
  int64_t dstSize() const { return n * od() * oh() * ow() * cout; }
  int64_t weiSize() const { return k * k * k * cin * cout; }
  memory::desc src() const { return memory::desc({n, cin, d, h, w}, dt::f32, tag::ndhwc); }
  memory::desc dst() const { return memory::desc({n, cout, od(), oh(), ow()}, dt::f32, tag::ndhwc); }
  memory::desc userWeights() const { return memory::desc({cout, cin, k, k, k}, dt::f32, tag::dhwio); }
  memory::desc anyWeights() const { return memory::desc({cout, cin, k, k, k}, dt::f32, tag::any); }
  memory::dims strides() const { return {stride, stride, stride}; }
  // PyTorch pads `pad` before and after; oneDNN needs the trailing padding that makes the output size exact.
  memory::dims padL() const { return {pad, pad, pad}; }
  memory::dims padR() const {
    return {(od() - 1) * stride + k - d - pad, (oh() - 1) * stride + k - h - pad, (ow() - 1) * stride + k - w - pad};
  }
  std::string key(Op op) const {
    char buf[160];
    snprintf(buf, sizeof buf, "%d:%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld", static_cast<int>(op), (long long)n,
             (long long)d, (long long)h, (long long)w, (long long)cin, (long long)cout, (long long)k,
             (long long)stride, (long long)pad);
    return buf;
  }
};

// oneDNN 2.x's JIT GEMM kernels (x64:gemm:jit, used by the gemm-based convolutions) point rsp into the heap while
// they run, so a signal handled on a thread inside one writes its frame onto the heap: "corrupted size vs. prev_size"
// later (oneDNN issue #4845, fixed in 3.11; Debian has 2.6.3). Node handles signals (SIGINT from a notebook's
// interrupt, SIGPROF from --cpu-prof, SIGCHLD, SIGUSR1, ...), so every call that runs oneDNN or an OpenMP region
// blocks the asynchronous signals on the calling thread until it returns: they are delivered then, a call's duration
// late. OpenMP's pool threads are created inside such calls and inherit the blocked mask for good. Faults raised by
// the code itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT) stay unblocked.
class SignalGuard {
 public:
  SignalGuard() {
    sigset_t blocked;
    sigfillset(&blocked);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&blocked, s);
    pthread_sigmask(SIG_BLOCK, &blocked, &saved_);
  }
  ~SignalGuard() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  sigset_t saved_;
};

// Loops of the addon's own (copies, elementwise passes, batch-norm sums) go parallel from this many values: below it
// OpenMP's fork and join costs more than the loop.
constexpr int64_t kParallelMinValues = 262144;

// The calling OpenMP thread's share [first, last) of `total` items, in blocks of `align` (e.g. 16 channels, so that two
// threads' sums never share a cache line). Inside a parallel region.
std::pair<size_t, size_t> threadShare(size_t total, size_t align) {
  const size_t threads = static_cast<size_t>(omp_get_num_threads()), t = static_cast<size_t>(omp_get_thread_num());
  const size_t per = ((total + threads - 1) / threads + align - 1) / align * align;
  const size_t first = std::min(total, t * per);
  return {first, std::min(total, first + per)};
}

struct Runtime {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

Runtime& runtime() {
  static thread_local Runtime rt;
  return rt;
}

struct Entry {
  dnnl::primitive prim;
  memory::desc weights;  // the primitive's weights (or weight-gradient) layout
  std::string impl;
};

dnnl::convolution_forward::primitive_desc forwardPd(const Geometry& g) {
  auto& rt = runtime();
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, g.src(),
                                       g.anyWeights(), g.dst(), g.strides(), g.padL(), g.padR());
  return dnnl::convolution_forward::primitive_desc(desc, rt.engine);
}

Entry& entry(Op op, const Geometry& g) {
  static thread_local std::unordered_map<std::string, Entry> cache;
  // A primitive splits its work for the thread count it was created with: the count is part of the key.
  const std::string key = g.key(op) + "@" + std::to_string(omp_get_max_threads());
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto& rt = runtime();
  Entry e;
  auto fwd = forwardPd(g);
  if (op == Op::Forward) {
    e.prim = dnnl::convolution_forward(fwd);
    e.weights = fwd.weights_desc();
    e.impl = fwd.impl_info_str();
  } else if (op == Op::BackwardData) {
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, g.src(), g.anyWeights(), g.dst(),
                                               g.strides(), g.padL(), g.padR());
    dnnl::convolution_backward_data::primitive_desc pd(desc, rt.engine, fwd);
    e.prim = dnnl::convolution_backward_data(pd);
    e.weights = pd.weights_desc();
    e.impl = pd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, g.src(), g.anyWeights(),
                                                  g.dst(), g.strides(), g.padL(), g.padR());
    dnnl::convolution_backward_weights::primitive_desc pd(desc, rt.engine, fwd);
    e.prim = dnnl::convolution_backward_weights(pd);
    e.weights = pd.diff_weights_desc();
    e.impl = pd.impl_info_str();
  }
  return cache.emplace(key, std::move(e)).first->second;
}

// Runs one convolution pass. a/b/out are caller-owned buffers of the sizes implied by the geometry.
void run(Op op, const Geometry& g, float* a, float* b, float* out) {
  auto& rt = runtime();
  Entry& e = entry(op, g);
  const memory::desc userW = g.userWeights();
  const bool reorderW = e.weights != userW;
  if (op == Op::BackwardWeights) {
    memory src(g.src(), rt.engine, a), diffDst(g.dst(), rt.engine, b), user(userW, rt.engine, out);
    memory diffW = reorderW ? memory(e.weights, rt.engine) : user;
    e.prim.execute(rt.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, diffW}});
    if (reorderW) dnnl::reorder(diffW, user).execute(rt.stream, diffW, user);
  } else {
    memory user(userW, rt.engine, b);
    memory wts = user;
    if (reorderW) {
      wts = memory(e.weights, rt.engine);
      dnnl::reorder(user, wts).execute(rt.stream, user, wts);
    }
    if (op == Op::Forward) {
      memory src(g.src(), rt.engine, a), dst(g.dst(), rt.engine, out);
      e.prim.execute(rt.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}});
    } else {
      memory diffDst(g.dst(), rt.engine, a), diffSrc(g.src(), rt.engine, out);
      e.prim.execute(rt.stream, {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DIFF_SRC, diffSrc}});
    }
  }
  rt.stream.wait();
}

// ---- N-API glue -------------------------------------------------------------------------------------------------

napi_value throwError(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

bool floatArray(napi_env env, napi_value v, float** data, size_t* length) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset);
  if (type != napi_float32_array) return false;
  *data = static_cast<float*>(raw);
  return true;
}

Op parseOp(const char* s) {
  if (!strcmp(s, "forward")) return Op::Forward;
  if (!strcmp(s, "backwardData")) return Op::BackwardData;
  if (!strcmp(s, "backwardWeights")) return Op::BackwardWeights;
  throw std::invalid_argument(std::string("conv3d op expected forward|backwardData|backwardWeights, got ") + s);
}

bool parseArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv, Op* op, Geometry* g) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    throwError(env, "ich_dnnl conv3d expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
    return false;
  }
  char opName[32] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], opName, sizeof opName, &len) != napi_ok) {
    throwError(env, "ich_dnnl conv3d expected an op name string as argument 1");
    return false;
  }
  try {
    *op = parseOp(opName);
  } catch (const std::exception& ex) {
    throwError(env, ex.what());
    return false;
  }
  int64_t v[9];
  for (int i = 0; i < 9; i++) {
    napi_value el;
    napi_get_element(env, argv[1], i, &el);
    if (napi_get_value_int64(env, el, &v[i]) != napi_ok || v[i] < 0) {
      throwError(env, "ich_dnnl conv3d geometry expected 9 non-negative integers [n,d,h,w,cin,cout,k,stride,pad]");
      return false;
    }
  }
  *g = Geometry{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
  if (g->k < 1 || g->stride < 1 || g->od() < 1 || g->oh() < 1 || g->ow() < 1) {
    throwError(env, "ich_dnnl conv3d geometry expected a positive output size, got " + g->key(*op));
    return false;
  }
  return true;
}

// conv3d(op, [n,d,h,w,cin,cout,k,stride,pad], a, b[, out]) -> Float32Array (out when given: the caller's array, e.g.
// a tensor's own memory, written in place instead of a new array)
//   forward:         a = x [n,d,h,w,cin],   b = w [k,k,k,cin,cout] -> y  [n,od,oh,ow,cout]
//   backwardData:    a = dy,                b = w                  -> dx [n,d,h,w,cin]
//   backwardWeights: a = x,                 b = dy                 -> dw [k,k,k,cin,cout]
napi_value Conv3d(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // oneDNN / OpenMP inside (see SignalGuard)
  napi_value argv[4];
  Op op;
  Geometry g;
  if (!parseArgs(env, info, 4, argv, &op, &g)) return nullptr;
  size_t argc = 5;
  napi_value all[5];
  napi_get_cb_info(env, info, &argc, all, nullptr, nullptr);
  napi_valuetype outType = napi_undefined;
  if (argc >= 5) napi_typeof(env, all[4], &outType);
  float *a = nullptr, *b = nullptr;
  size_t la = 0, lb = 0;
  if (!floatArray(env, argv[2], &a, &la) || !floatArray(env, argv[3], &b, &lb))
    return throwError(env, "ich_dnnl conv3d expected Float32Array operands (arguments 3 and 4)");
  const int64_t wantA = op == Op::BackwardData ? g.dstSize() : g.srcSize();
  const int64_t wantB = op == Op::BackwardWeights ? g.dstSize() : g.weiSize();
  const int64_t outLen = op == Op::Forward ? g.dstSize() : op == Op::BackwardData ? g.srcSize() : g.weiSize();
  if ((int64_t)la != wantA || (int64_t)lb != wantB)
    return throwError(env, "ich_dnnl conv3d operands expected lengths " + std::to_string(wantA) + " and " +
                               std::to_string(wantB) + ", got " + std::to_string(la) + " and " + std::to_string(lb) +
                               " (" + g.key(op) + ")");
  if (outType != napi_undefined && outType != napi_null) {
    float* out = nullptr;
    size_t lo = 0;
    if (!floatArray(env, all[4], &out, &lo) || (int64_t)lo != outLen)
      return throwError(env, "ich_dnnl conv3d output expected a Float32Array of " + std::to_string(outLen) + " values, got " +
                                 (out ? std::to_string(lo) : std::string("another type")) + " (" + g.key(op) + ")");
    try {
      run(op, g, a, b, out);
    } catch (const dnnl::error& ex) {
      return throwError(env, std::string("oneDNN conv3d failed: ") + ex.what() + " (" + g.key(op) + ")");
    }
    return all[4];
  }
  void* outData = nullptr;
  napi_value buffer, result;
  if (napi_create_arraybuffer(env, outLen * sizeof(float), &outData, &buffer) != napi_ok)
    return throwError(env, "ich_dnnl conv3d could not allocate its output");
  try {
    run(op, g, a, b, static_cast<float*>(outData));
  } catch (const dnnl::error& ex) {
    return throwError(env, std::string("oneDNN conv3d failed: ") + ex.what() + " (" + g.key(op) + ")");
  }
  napi_create_typedarray(env, napi_float32_array, outLen, buffer, 0, &result);
  return result;
}

// implementation(op, geometry) -> the oneDNN implementation name (e.g. "jit:avx2"), for reports and tests.
napi_value Implementation(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // oneDNN / OpenMP inside (see SignalGuard)
  napi_value argv[2];
  Op op;
  Geometry g;
  if (!parseArgs(env, info, 2, argv, &op, &g)) return nullptr;
  try {
    napi_value s;
    napi_create_string_utf8(env, entry(op, g).impl.c_str(), NAPI_AUTO_LENGTH, &s);
    return s;
  } catch (const dnnl::error& ex) {
    return throwError(env, std::string("oneDNN conv3d failed: ") + ex.what());
  }
}

// setThreads(n): OpenMP threads for this JS thread's oneDNN calls (the OpenMP setting is per calling thread).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1)
    return throwError(env, "ich_dnnl setThreads expected a positive integer");
  omp_set_num_threads(n);
  return nullptr;
}

// keepFreedMemory(on) -> boolean: whether glibc's malloc keeps what is freed for the next allocation. By default
// every block over 32 MiB is its own mapping, unmapped when freed, so each new tensor of the cpu backend (block 1's
// feature maps: 30-470 MB at the paper input) is fresh memory that faults in page by page on first write (~1.3 us per
// 4 KiB page; 21 M faults and 46 s of system time in a 3-step benchmark at batch 8, bench/NOTES.md). On: no mappings
// per block and no trimming, so the heap grows to a step's peak once and is reused. Off: glibc's defaults (the mmap
// threshold stays where it was), and malloc_trim returns what is free. Process-wide; false where the C library is not
// glibc.
napi_value KeepFreedMemory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) return throwError(env, "keepFreedMemory expected a boolean");
  bool kept = false;
#ifdef __GLIBC__
  if (on) {
    // -1: never trim (mallopt(3)). A block larger than a thread arena's 64 MiB heap comes from the main arena's heap.
    kept = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
  } else {
    mallopt(M_MMAP_MAX, 65536);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    malloc_trim(0);
  }
#endif
  napi_value result;
  napi_get_boolean(env, kept, &result);
  return result;
}

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  napi_value s;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &s);
  return s;
}


// ---- Pooling (plain loops, PyTorch's tie rule: the first maximum; forward passes split by output rows) -------------

struct PoolGeometry {
  int64_t n, d, h, w, c, k, stride, pad;
  int64_t od() const { return (d + 2 * pad - k) / stride + 1; }
  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  int64_t inSize() const { return n * d * h * w * c; }
  int64_t outSize() const { return n * od() * oh() * ow() * c; }
};

// Visits every output position with the input voxel offsets (in voxels, not channels) of its in-bounds window. With
// `parallel`, rows of outputs (one batch item, depth and height each) are shared out over the calling thread's OpenMP
// threads when there are enough values: for passes that write only their own output position (the forward passes;
// a backward pass adds into inputs that windows share).
template <bool parallel = false, typename F>
void forEachWindow(const PoolGeometry& g, F&& f) {
  const int64_t od = g.od(), oh = g.oh(), ow = g.ow(), rows = g.n * od * oh;
#pragma omp parallel for schedule(static) if (parallel && g.outSize() > kParallelMinValues)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t b = r / (od * oh), z = r / oh % od, y = r % oh;
    int64_t taps[512];
    for (int64_t x = 0, o = r * ow; x < ow; x++, o++) {
      int count = 0;
      for (int64_t kd = 0; kd < g.k; kd++) {
        const int64_t iz = z * g.stride - g.pad + kd;
        if (iz < 0 || iz >= g.d) continue;
        for (int64_t kh = 0; kh < g.k; kh++) {
          const int64_t iy = y * g.stride - g.pad + kh;
          if (iy < 0 || iy >= g.h) continue;
          for (int64_t kw = 0; kw < g.k; kw++) {
            const int64_t ix = x * g.stride - g.pad + kw;
            if (ix < 0 || ix >= g.w) continue;
            taps[count++] = ((b * g.d + iz) * g.h + iy) * g.w + ix;
          }
        }
      }
      f(o, taps, count);
    }
  }
}

// The arguments (up to `capacity`, at least `want`; `argc` how many were given) and the geometry of a pooling call.
bool poolArgs(napi_env env, napi_callback_info info, size_t want, size_t capacity, napi_value* argv, size_t* argcOut, PoolGeometry* g) {
  size_t argc = capacity;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  *argcOut = argc;
  if (argc < want) {
    throwError(env, "ich_dnnl pooling expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
    return false;
  }
  int64_t v[8];
  for (int i = 0; i < 8; i++) {
    napi_value el;
    napi_get_element(env, argv[0], i, &el);
    if (napi_get_value_int64(env, el, &v[i]) != napi_ok || v[i] < 0) {
      throwError(env, "ich_dnnl pooling geometry expected 8 non-negative integers [n,d,h,w,c,k,stride,pad]");
      return false;
    }
  }
  *g = PoolGeometry{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  if (g->k < 1 || g->k > 8 || g->stride < 1 || 2 * g->pad > g->k || g->od() < 1 || g->oh() < 1 || g->ow() < 1) {
    throwError(env, "ich_dnnl pooling geometry expected 1 <= k <= 8, pad <= k/2 and a positive output size");
    return false;
  }
  return true;
}

napi_value newFloats(napi_env env, int64_t length, float** data) {
  napi_value buffer, result;
  void* raw = nullptr;
  napi_create_arraybuffer(env, length * sizeof(float), &raw, &buffer);  // zeroed, as every new ArrayBuffer
  napi_create_typedarray(env, napi_float32_array, length, buffer, 0, &result);
  *data = static_cast<float*>(raw);
  return result;
}

// The optional output argument argv[index] of a function (a tensor's own memory, written in place) when it is a
// Float32Array of `length` values, else a new zeroed array; false (with a JS error) for anything else.
bool outputOrNew(napi_env env, napi_value* argv, size_t argc, size_t index, int64_t length, float** data, napi_value* value,
                 const char* name) {
  napi_valuetype t = napi_undefined;
  if (argc > index) napi_typeof(env, argv[index], &t);
  if (t == napi_undefined || t == napi_null) {
    *value = newFloats(env, length, data);
    return true;
  }
  size_t got = 0;
  if (!floatArray(env, argv[index], data, &got) || (int64_t)got != length) {
    throwError(env, std::string("ich_dnnl ") + name + " output expected a Float32Array of " + std::to_string(length) +
                        " values, got " + (*data ? std::to_string(got) : std::string("another type")));
    return false;
  }
  *value = argv[index];
  return true;
}

// A JS array of the given values (the functions that return several arrays).
napi_value arrayOf(napi_env env, std::initializer_list<napi_value> values) {
  napi_value result;
  napi_create_array_with_length(env, values.size(), &result);
  uint32_t i = 0;
  for (napi_value v : values) napi_set_element(env, result, i++, v);
  return result;
}

// maxPool3d([n,d,h,w,c,k,stride,pad], x[, out]) -> [y, argmax]: padding is -infinity; the first maximum in window
// order wins (PyTorch's rule), and argmax holds its flat input index for the gradient. y is `out` when given.
napi_value MaxPool3d(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // OpenMP inside (see SignalGuard)
  napi_value argv[3];
  size_t argc = 0;
  PoolGeometry g;
  if (!poolArgs(env, info, 2, 3, argv, &argc, &g)) return nullptr;
  float* x = nullptr;
  size_t lx = 0;
  if (!floatArray(env, argv[1], &x, &lx) || (int64_t)lx != g.inSize())
    return throwError(env, "ich_dnnl maxPool3d expected a Float32Array input of length " + std::to_string(g.inSize()));
  float* y = nullptr;
  napi_value yv;
  if (!outputOrNew(env, argv, argc, 2, g.outSize(), &y, &yv, "maxPool3d")) return nullptr;
  napi_value ab, iv;
  void* raw = nullptr;
  napi_create_arraybuffer(env, g.outSize() * sizeof(int32_t), &raw, &ab);
  napi_create_typedarray(env, napi_int32_array, g.outSize(), ab, 0, &iv);
  int32_t* arg = static_cast<int32_t*>(raw);
  const int64_t c = g.c;
  // The first tap initialises the window (the rule's "no maximum yet"); a later one replaces the maximum only when
  // greater, or when it is the window's first NaN: as selects, not branches on the data, so the channels vectorise.
  forEachWindow<true>(g, [&](int64_t o, const int64_t* taps, int count) {
    float* __restrict yo = y + o * c;
    int32_t* __restrict ao = arg + o * c;
    if (count == 0) {
      for (int64_t ch = 0; ch < c; ch++) {
        yo[ch] = -INFINITY;
        ao[ch] = -1;
      }
      return;
    }
    const float* x0 = x + taps[0] * c;
    const int32_t base0 = static_cast<int32_t>(taps[0] * c);
    for (int64_t ch = 0; ch < c; ch++) {
      yo[ch] = x0[ch];
      ao[ch] = base0 + static_cast<int32_t>(ch);
    }
    for (int t = 1; t < count; t++) {
      const float* __restrict xi = x + taps[t] * c;
      const int32_t base = static_cast<int32_t>(taps[t] * c);
      for (int64_t ch = 0; ch < c; ch++) {
        const float v = xi[ch], m = yo[ch];
        const bool take = (v > m) | ((v != v) & (m == m));
        yo[ch] = take ? v : m;
        ao[ch] = take ? base + static_cast<int32_t>(ch) : ao[ch];
      }
    }
  });
  return arrayOf(env, {yv, iv});
}

// maxPool3dBackward(inputLength, dy, argmax[, out]) -> dx: each output's gradient goes to its maximum. dx is `out`
// when given (zeroed here: a tensor's memory holds anything).
napi_value MaxPool3dBackward(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t n = 0;
  float* dy = nullptr;
  size_t ldy = 0, larg = 0;
  bool isTyped = false;
  if (argc < 3 || napi_get_value_int64(env, argv[0], &n) != napi_ok || n < 0 || !floatArray(env, argv[1], &dy, &ldy))
    return throwError(env, "ich_dnnl maxPool3dBackward expected (inputLength, Float32Array dy, Int32Array argmax)");
  napi_is_typedarray(env, argv[2], &isTyped);
  napi_typedarray_type type;
  void* raw = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (isTyped) napi_get_typedarray_info(env, argv[2], &type, &larg, &raw, &buffer, &offset);
  if (!isTyped || type != napi_int32_array || larg != ldy)
    return throwError(env, "ich_dnnl maxPool3dBackward expected an Int32Array argmax as long as dy");
  const int32_t* arg = static_cast<const int32_t*>(raw);
  float* dx = nullptr;
  napi_value result;
  if (!outputOrNew(env, argv, argc, 3, n, &dx, &result, "maxPool3dBackward")) return nullptr;
  if (argc > 3) std::memset(dx, 0, n * sizeof(float));
  for (size_t o = 0; o < ldy; o++)
    if (arg[o] >= 0 && arg[o] < n) dx[arg[o]] += dy[o];
  return result;
}

// avgPool3d([n,d,h,w,c,k,stride,0], x[, out]) -> y: the mean of each window (no padding); y is `out` when given.
napi_value AvgPool3d(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // OpenMP inside (see SignalGuard)
  napi_value argv[3];
  size_t argc = 0;
  PoolGeometry g;
  if (!poolArgs(env, info, 2, 3, argv, &argc, &g)) return nullptr;
  float* x = nullptr;
  size_t lx = 0;
  if (g.pad != 0 || !floatArray(env, argv[1], &x, &lx) || (int64_t)lx != g.inSize())
    return throwError(env, "ich_dnnl avgPool3d expected padding 0 and a Float32Array input of length " + std::to_string(g.inSize()));
  float* y = nullptr;
  napi_value yv;
  if (!outputOrNew(env, argv, argc, 2, g.outSize(), &y, &yv, "avgPool3d")) return nullptr;
  const int64_t c = g.c;
  const float scale = 1.0f / static_cast<float>(g.k * g.k * g.k);
  forEachWindow<true>(g, [&](int64_t o, const int64_t* taps, int count) {
    float* yo = y + o * c;
    for (int64_t ch = 0; ch < c; ch++) yo[ch] = 0.0f;  // `out` holds anything; the sum starts from +0 as it always did
    for (int t = 0; t < count; t++) {
      const float* xi = x + taps[t] * c;
      for (int64_t ch = 0; ch < c; ch++) yo[ch] += xi[ch];
    }
    for (int64_t ch = 0; ch < c; ch++) yo[ch] *= scale;
  });
  return yv;
}

// avgPool3dBackward([n,d,h,w,c,k,stride,0], dy[, out]) -> dx; dx is `out` when given (zeroed here).
napi_value AvgPool3dBackward(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 0;
  PoolGeometry g;
  if (!poolArgs(env, info, 2, 3, argv, &argc, &g)) return nullptr;
  float* dy = nullptr;
  size_t ldy = 0;
  if (g.pad != 0 || !floatArray(env, argv[1], &dy, &ldy) || (int64_t)ldy != g.outSize())
    return throwError(env, "ich_dnnl avgPool3dBackward expected padding 0 and a Float32Array dy of length " + std::to_string(g.outSize()));
  float* dx = nullptr;
  napi_value result;
  if (!outputOrNew(env, argv, argc, 2, g.inSize(), &dx, &result, "avgPool3dBackward")) return nullptr;
  if (argc > 2) std::memset(dx, 0, g.inSize() * sizeof(float));
  const int64_t c = g.c;
  const float scale = 1.0f / static_cast<float>(g.k * g.k * g.k);
  forEachWindow(g, [&](int64_t o, const int64_t* taps, int count) {
    const float* go = dy + o * c;
    for (int t = 0; t < count; t++) {
      float* xi = dx + taps[t] * c;
      for (int64_t ch = 0; ch < c; ch++) xi[ch] += go[ch] * scale;
    }
  });
  return result;
}

// Batch normalisation (+ ReLU) over the rows of [rows, C] activations, sums in double (a float32 running sum around a
// mean of 50 loses ~0.5 % of the gamma gradient over 1,080 rows: measured on wasm). Both passes split their sums by
// channel blocks and their elementwise loops by rows over the calling thread's OpenMP threads.
struct BnArgs {
  float* x = nullptr;
  size_t lx = 0;
  float* gamma = nullptr;
  float* beta = nullptr;
  size_t c = 0;
  double eps = 0;
  bool relu = false;
};

bool bnCommon(napi_env env, napi_value* argv, int xi, int gi, int bi, int ei, int ri, BnArgs* a, const char* name) {
  size_t lg = 0, lb = 0;
  bool relu = false;
  if (!floatArray(env, argv[xi], &a->x, &a->lx) || !floatArray(env, argv[gi], &a->gamma, &lg) || !floatArray(env, argv[bi], &a->beta, &lb) ||
      napi_get_value_double(env, argv[ei], &a->eps) != napi_ok || napi_get_value_bool(env, argv[ri], &relu) != napi_ok || lg == 0 || lb != lg ||
      a->lx % lg != 0) {
    throwError(env, std::string("ich_dnnl ") + name + " expected Float32Arrays x [rows * C], gamma [C], beta [C], a number eps and a boolean relu");
    return false;
  }
  a->c = lg;
  a->relu = relu;
  return true;
}

// The forward pass's two loops on a share of the work: per-channel sums of x and x^2 for channels [c0, c1) (each
// channel over the rows in order: the same bits for any thread count), and the output of rows [r0, r1).
void bnSums(const float* __restrict x, size_t rows, size_t c, size_t c0, size_t c1, double* __restrict s1, double* __restrict s2) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    for (size_t ch = c0; ch < c1; ch++) {
      const double v = xr[ch];
      s1[ch] += v;
      s2[ch] += v * v;
    }
  }
}

void bnNormalise(const float* __restrict x, float* __restrict y, size_t r0, size_t r1, size_t c, const float* __restrict scale,
                 const float* __restrict shift, bool relu) {
  for (size_t r = r0; r < r1; r++) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    for (size_t ch = 0; ch < c; ch++) {
      const float v = xr[ch] * scale[ch] + shift[ch];
      yr[ch] = relu && !(v > 0.0f) ? 0.0f : v;
    }
  }
}

// batchNormForward(x, gamma, beta, eps, relu, stats | null[, out]) -> [y, stats]: with stats ([mean; var], 2C: the
// running statistics, eval mode) it normalises with them; with null it computes the batch mean and biased variance.
// y is `out` when given (a tensor's own memory, written in place).
napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // OpenMP inside (see SignalGuard)
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  BnArgs a;
  if (argc < 6 || !bnCommon(env, argv, 0, 1, 2, 3, 4, &a, "batchNormForward")) return argc < 6 ? throwError(env, "ich_dnnl batchNormForward expected 6 arguments") : nullptr;
  const size_t c = a.c, rows = a.lx / c;
  float* statsOut = nullptr;
  napi_value statsValue = newFloats(env, 2 * c, &statsOut);
  napi_valuetype t;
  napi_typeof(env, argv[5], &t);
  // Below the threshold both regions run on the calling thread alone, whose share is everything.
  const bool parallel = static_cast<int64_t>(a.lx) > kParallelMinValues;
  if (t == napi_null) {
    std::vector<double> s1(c, 0.0), s2(c, 0.0);
#pragma omp parallel if (parallel)
    {
      const auto [c0, c1] = threadShare(c, 16);
      bnSums(a.x, rows, c, c0, c1, s1.data(), s2.data());
    }
    for (size_t ch = 0; ch < c; ch++) {
      const double mean = s1[ch] / rows;
      statsOut[ch] = static_cast<float>(mean);
      statsOut[c + ch] = static_cast<float>(std::max(0.0, s2[ch] / rows - mean * mean));
    }
  } else {
    float* given = nullptr;
    size_t ls = 0;
    if (!floatArray(env, argv[5], &given, &ls) || ls != 2 * c) return throwError(env, "ich_dnnl batchNormForward expected stats [mean; var] of length 2C or null");
    std::memcpy(statsOut, given, 2 * c * sizeof(float));
  }
  std::vector<float> scale(c), shift(c);
  for (size_t ch = 0; ch < c; ch++) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(statsOut[c + ch]) + a.eps);
    scale[ch] = static_cast<float>(invstd * a.gamma[ch]);
    shift[ch] = static_cast<float>(a.beta[ch] - statsOut[ch] * invstd * a.gamma[ch]);
  }
  float* y = nullptr;
  napi_value yv;
  if (!outputOrNew(env, argv, argc, 6, a.lx, &y, &yv, "batchNormForward")) return nullptr;
#pragma omp parallel if (parallel)
  {
    const auto [r0, r1] = threadShare(rows, 1);
    bnNormalise(a.x, y, r0, r1, c, scale.data(), shift.data(), a.relu);
  }
  return arrayOf(env, {yv, statsValue});
}

// The batch-norm backward pass's two loops, as plain functions the threads call on their share: channel blocks for
// the sums (each channel summed over the rows in order: the same bits for any thread count), rows for the input
// gradient. The ReLU's mask clears the gradient's bits (+0.0, as the select it replaces) instead of branching on
// random signs: the loop's speed no longer depends on which path gcc's aliasing check picks (the same loop measured
// 11 to 45 ms for 7.4 M values depending on the build, bench/NOTES.md).
struct BnGrad {
  const float* x;
  const float* dy;
  const float* gamma;
  const float* beta;
  const float* mean;
  const double* invstd;
  size_t c;
  bool relu;
};

inline double maskedGradient(const BnGrad& b, size_t i, size_t ch, double xh) {
  const double d = static_cast<double>(b.dy[i]);
  const uint64_t keep = -static_cast<uint64_t>(!b.relu || b.gamma[ch] * xh + b.beta[ch] > 0.0);
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  bits &= keep;
  double g;
  std::memcpy(&g, &bits, sizeof g);
  return g;
}

// Sums over all rows of the masked gradient (sg) and of it times the normalised input (sgx), channels [c0, c1).
void bnGradSums(const BnGrad& b, size_t rows, size_t c0, size_t c1, double* sg, double* sgx) {
  for (size_t r = 0; r < rows; r++)
    for (size_t ch = c0; ch < c1; ch++) {
      const size_t i = r * b.c + ch;
      const double xh = (b.x[i] - static_cast<double>(b.mean[ch])) * b.invstd[ch];
      const double g = maskedGradient(b, i, ch, xh);
      sg[ch] += g;
      sgx[ch] += g * xh;
    }
}

// The input gradient of rows [r0, r1): through the batch statistics in training (kn = gamma / std / n), else k * g.
void bnInputGrad(const BnGrad& b, size_t r0, size_t r1, bool training, double n, const double* k, const double* kn,
                 const double* sg, const double* sgx, float* dx) {
  for (size_t r = r0; r < r1; r++)
    for (size_t ch = 0; ch < b.c; ch++) {
      const size_t i = r * b.c + ch;
      const double xh = (b.x[i] - static_cast<double>(b.mean[ch])) * b.invstd[ch];
      const double g = maskedGradient(b, i, ch, xh);
      dx[i] = static_cast<float>(training ? kn[ch] * (n * g - sg[ch] - xh * sgx[ch]) : k[ch] * g);
    }
}

// Both loops over the calling thread's OpenMP threads: the sums (sg, sgx: C each) by channel blocks, then dx by rows.
void bnBackwardSplit(const BnGrad& b, size_t rows, bool training, double* sg, double* sgx, float* dx) {
#pragma omp parallel
  {
    const auto [c0, c1] = threadShare(b.c, 16);
    std::vector<double> tg(b.c, 0.0), tgx(b.c, 0.0);
    bnGradSums(b, rows, c0, c1, tg.data(), tgx.data());
    std::copy(tg.begin() + c0, tg.begin() + c1, sg + c0);
    std::copy(tgx.begin() + c0, tgx.begin() + c1, sgx + c0);
  }
  const double n = static_cast<double>(rows);
  // Per channel: k = gamma / std and k / n, the same doubles the per-element expression computed.
  std::vector<double> k(b.c), kn(b.c);
  for (size_t ch = 0; ch < b.c; ch++) {
    k[ch] = b.gamma[ch] * b.invstd[ch];
    kn[ch] = k[ch] / n;
  }
#pragma omp parallel
  {
    const auto [r0, r1] = threadShare(rows, 1);
    bnInputGrad(b, r0, r1, training, n, k.data(), kn.data(), sg, sgx, dx);
  }
}

// batchNormBackward(dy, x, gamma, beta, eps, relu, stats, training[, out]) -> [dx, dgamma, dbeta]: the gradient masked
// by the ReLU where the output was <= 0; in training the input gradient runs through the batch statistics (PyTorch).
// dx is `out` when given.
napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // OpenMP inside (see SignalGuard)
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  BnArgs a;
  if (argc < 8) return throwError(env, "ich_dnnl batchNormBackward expected 8 arguments");
  if (!bnCommon(env, argv, 1, 2, 3, 4, 5, &a, "batchNormBackward")) return nullptr;
  float* dy = nullptr;
  float* stats = nullptr;
  size_t ldy = 0, ls = 0;
  bool training = false;
  if (!floatArray(env, argv[0], &dy, &ldy) || ldy != a.lx || !floatArray(env, argv[6], &stats, &ls) || ls != 2 * a.c ||
      napi_get_value_bool(env, argv[7], &training) != napi_ok)
    return throwError(env, "ich_dnnl batchNormBackward expected dy as long as x, stats [mean; var] of length 2C and a boolean training");
  const size_t c = a.c, rows = a.lx / c;
  std::vector<double> invstd(c), sg(c, 0.0), sgx(c, 0.0);
  for (size_t ch = 0; ch < c; ch++) invstd[ch] = 1.0 / std::sqrt(static_cast<double>(stats[c + ch]) + a.eps);
  float *dx = nullptr, *dgamma = nullptr, *dbeta = nullptr;
  napi_value dxv;
  if (!outputOrNew(env, argv, argc, 8, a.lx, &dx, &dxv, "batchNormBackward")) return nullptr;
  napi_value dgv = newFloats(env, c, &dgamma), dbv = newFloats(env, c, &dbeta);
  // One thread: the plain loops, which gcc vectorises (26 ms for 7.4 M values, where the functions above take 31);
  // more: the functions, split (17 ms on two threads). The same bits either way (native-dnnl.test.ts).
  if (omp_get_max_threads() > 1 && static_cast<int64_t>(a.lx) > kParallelMinValues) {
    bnBackwardSplit(BnGrad{a.x, dy, a.gamma, a.beta, stats, invstd.data(), c, a.relu}, rows, training, sg.data(), sgx.data(), dx);
  } else {
    auto masked = [&](size_t r, size_t ch, double xh) -> double {
      const double g = dy[r * c + ch];
      return a.relu && !(a.gamma[ch] * xh + a.beta[ch] > 0.0) ? 0.0 : g;
    };
    for (size_t r = 0; r < rows; r++)
      for (size_t ch = 0; ch < c; ch++) {
        const double xh = (a.x[r * c + ch] - static_cast<double>(stats[ch])) * invstd[ch];
        const double g = masked(r, ch, xh);
        sg[ch] += g;
        sgx[ch] += g * xh;
      }
    const double n = static_cast<double>(rows);
    for (size_t r = 0; r < rows; r++)
      for (size_t ch = 0; ch < c; ch++) {
        const double xh = (a.x[r * c + ch] - static_cast<double>(stats[ch])) * invstd[ch];
        const double g = masked(r, ch, xh);
        const double k = a.gamma[ch] * invstd[ch];
        dx[r * c + ch] = static_cast<float>(training ? k / n * (n * g - sg[ch] - xh * sgx[ch]) : k * g);
      }
  }
  for (size_t ch = 0; ch < c; ch++) {
    dgamma[ch] = static_cast<float>(sgx[ch]);
    dbeta[ch] = static_cast<float>(sg[ch]);
  }
  return arrayOf(env, {dxv, dgv, dbv});
}

// adamStep(param, grad, moments, paramOut, momentsOut, [decay, weightDecay, beta1, 1-beta1, beta2, 1-beta2, eps,
// stepSize, bias2Sqrt], amsgrad, decoupled): one AdamW (decoupled) or Adam-with-L2 step of one parameter tensor,
// moments packed [m; v] or [m; v; vmax] (n each), written into the caller's arrays (the tensors' own memory: no
// copies). Float arithmetic op by op in the order of the TensorFlow.js formulation (src/train/adamw.ts), built without
// FMA contraction, so the result is that formulation's to the bit. Elementwise, so threads do not change it.
napi_value AdamStep(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // oneDNN / OpenMP inside (see SignalGuard)
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 8) return throwError(env, "adamStep expected 8 arguments, got " + std::to_string(argc));
  float *param, *grad, *moments, *paramOut, *momentsOut;
  size_t n, gn, mn, pon, mon;
  if (!floatArray(env, argv[0], &param, &n) || !floatArray(env, argv[1], &grad, &gn) || !floatArray(env, argv[2], &moments, &mn) ||
      !floatArray(env, argv[3], &paramOut, &pon) || !floatArray(env, argv[4], &momentsOut, &mon))
    return throwError(env, "adamStep expected Float32Arrays for param, grad, moments, paramOut and momentsOut");
  bool amsgrad = false, decoupled = false;
  napi_get_value_bool(env, argv[6], &amsgrad);
  napi_get_value_bool(env, argv[7], &decoupled);
  const size_t rows = amsgrad ? 3 : 2;
  if (gn != n || pon != n || mn != rows * n || mon != rows * n)
    return throwError(env, "adamStep expected grad and paramOut of " + std::to_string(n) + " values and moments of " +
                               std::to_string(rows * n) + ", got " + std::to_string(gn) + ", " + std::to_string(pon) +
                               ", " + std::to_string(mn) + " and " + std::to_string(mon));
  float c[9];
  for (uint32_t i = 0; i < 9; i++) {
    napi_value el;
    double v = 0;
    if (napi_get_element(env, argv[5], i, &el) != napi_ok || napi_get_value_double(env, el, &v) != napi_ok)
      return throwError(env, "adamStep expected 9 numeric constants, got fewer (element " + std::to_string(i) + ")");
    c[i] = static_cast<float>(v);  // as the f32 scalars of the TensorFlow.js formulation
  }
  const float decay = c[0], wd = c[1], b1 = c[2], omb1 = c[3], b2 = c[4], omb2 = c[5], eps = c[6], stepSize = c[7],
              bias2Sqrt = c[8];
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; i++) {
    const float g = decoupled ? grad[i] : grad[i] + param[i] * wd;
    const float m = moments[i] * b1 + g * omb1;
    const float v = moments[count + i] * b2 + (g * g) * omb2;
    momentsOut[i] = m;
    momentsOut[count + i] = v;
    float second = v;
    if (amsgrad) {
      second = std::max(moments[2 * count + i], v);
      momentsOut[2 * count + i] = second;
    }
    const float p = decoupled ? param[i] * decay : param[i];
    const float denom = std::sqrt(second) / bias2Sqrt + eps;
    paramOut[i] = p - (m / denom) * stepSize;
  }
  return nullptr;
}

// concatChannels(a, b, out, ca, cb) / splitChannels(out, a, b, ca, cb): rows of ca channels of a and cb of b side by
// side in rows of ca + cb (channels-last concatenation, DenseNet's dense connectivity) and back (its gradient), in
// the caller's arrays (the tensors' own memory). Plain copies, so the result is exact.
bool channelArgs(napi_env env, napi_callback_info info, float** joined, float** a, float** b, int64_t* rows, int64_t* ca,
                 int64_t* cb, const char* name) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t nj = 0, na = 0, nb = 0;
  if (argc < 5 || !floatArray(env, argv[0], joined, &nj) || !floatArray(env, argv[1], a, &na) || !floatArray(env, argv[2], b, &nb) ||
      napi_get_value_int64(env, argv[3], ca) != napi_ok || napi_get_value_int64(env, argv[4], cb) != napi_ok || *ca < 1 || *cb < 1) {
    throwError(env, std::string(name) + " expected (joined, a, b: Float32Array, ca, cb: positive channel counts)");
    return false;
  }
  *rows = static_cast<int64_t>(na) / *ca;
  if (static_cast<int64_t>(na) != *rows * *ca || static_cast<int64_t>(nb) != *rows * *cb ||
      static_cast<int64_t>(nj) != *rows * (*ca + *cb)) {
    throwError(env, std::string(name) + " expected " + std::to_string(*rows) + " rows of " + std::to_string(*ca) + " + " +
                        std::to_string(*cb) + " channels (" + std::to_string(*rows * *ca) + ", " + std::to_string(*rows * *cb) +
                        " and " + std::to_string(*rows * (*ca + *cb)) + " values), got " + std::to_string(na) + ", " +
                        std::to_string(nb) + " and " + std::to_string(nj));
    return false;
  }
  return true;
}

// Both directions of the copy: join (a, b -> joined) or split (joined -> a, b).
napi_value CopyChannels(napi_env env, napi_callback_info info, bool join, const char* name) {
  SignalGuard guard;  // oneDNN / OpenMP inside (see SignalGuard)
  float *joined, *a, *b;
  int64_t rows, ca, cb;
  if (!channelArgs(env, info, &joined, &a, &b, &rows, &ca, &cb, name)) return nullptr;
#pragma omp parallel for schedule(static) if (rows * (ca + cb) > kParallelMinValues)
  for (int64_t r = 0; r < rows; r++) {
    float* row = joined + r * (ca + cb);
    if (join) {
      std::memcpy(row, a + r * ca, ca * sizeof(float));
      std::memcpy(row + ca, b + r * cb, cb * sizeof(float));
    } else {
      std::memcpy(a + r * ca, row, ca * sizeof(float));
      std::memcpy(b + r * cb, row + ca, cb * sizeof(float));
    }
  }
  return nullptr;
}

napi_value ConcatChannels(napi_env env, napi_callback_info info) { return CopyChannels(env, info, true, "concatChannels"); }

napi_value SplitChannels(napi_env env, napi_callback_info info) { return CopyChannels(env, info, false, "splitChannels"); }

// addInto(out, a, b): out = a + b elementwise, the cpu backend's Add of two float32 tensors of one shape (gradient
// accumulation in the backward pass: every DenseNet feature map feeds later layers). tfjs's JavaScript kernel takes
// ~18 ns per element there (a generic loop over every dtype and broadcast); a float32 sum is correctly rounded in
// both, so the values are the same to the bit. Elementwise, so threads do not change them.
napi_value AddInto(napi_env env, napi_callback_info info) {
  SignalGuard guard;  // oneDNN / OpenMP inside (see SignalGuard)
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *out = nullptr, *a = nullptr, *b = nullptr;
  size_t no = 0, na = 0, nb = 0;
  if (argc < 3 || !floatArray(env, argv[0], &out, &no) || !floatArray(env, argv[1], &a, &na) || !floatArray(env, argv[2], &b, &nb))
    return throwError(env, "addInto expected (out, a, b: Float32Array)");
  if (na != no || nb != no)
    return throwError(env, "addInto expected three arrays of one length, got " + std::to_string(no) + ", " + std::to_string(na) +
                               " and " + std::to_string(nb));
  const int64_t n = static_cast<int64_t>(no);
#pragma omp parallel for schedule(static) if (n > kParallelMinValues)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv3d", nullptr, Conv3d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"implementation", nullptr, Implementation, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool3d", nullptr, MaxPool3d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool3dBackward", nullptr, MaxPool3dBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"avgPool3d", nullptr, AvgPool3d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"avgPool3dBackward", nullptr, AvgPool3dBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormForward", nullptr, BatchNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormBackward", nullptr, BatchNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamStep", nullptr, AdamStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"concatChannels", nullptr, ConcatChannels, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"splitChannels", nullptr, SplitChannels, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addInto", nullptr, AddInto, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"keepFreedMemory", nullptr, KeepFreedMemory, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
