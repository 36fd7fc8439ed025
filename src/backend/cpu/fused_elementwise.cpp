// A tiled interpreter for fused elementwise chains. The output is cut into blocks of up to
// kBlock elements; for each block every step of the chain runs over the whole block (the
// project's Highway kernels where they exist, the shared scalar ops otherwise) on scratch rows
// that stay in L1, so memory sees one read of each input and one write of the output.
//
// Values are float32 lanes whatever their dtype: float16/bfloat16 results are rounded to their
// type after each step and bools are 0/1, so each step computes exactly what the unfused kernel
// computes (bit-identical wherever that kernel takes the same SIMD/scalar path).
#include "backend/cpu/fused_elementwise.h"
#include "backend/cpu/fused_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "backend/backend.h"
#include "backend/common/elementwise_loops.h"
#include "backend/common/layout.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_scratch.h"
#include "core/thread_pool.h"
#include "primitives/compiled.h"
#include "primitives/elementwise.h"
#include "primitives/scalar_ops.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

constexpr int64_t kBlock = 2048;
// Rows at least this long are cut into blocks within the row (so broadcast rows and columns
// are read in place); shorter rows are grouped several to a block.
constexpr int64_t kMinRowBlock = 256;
constexpr int64_t kStreamMin = int64_t(1) << 18;

enum class Lane : uint8_t { f32, f16, bf16, b, none };

Lane lane_of(Dtype d) {
  if (d == float32) return Lane::f32;
  if (d == float16) return Lane::f16;
  if (d == bfloat16) return Lane::bf16;
  if (d == bool_) return Lane::b;
  return Lane::none;
}

struct Step {
  PrimitiveKind kind;
  uint8_t op = 0;
  int nargs = 0;
  int args[3] = {0, 0, 0};
  int dst = 0;
  Lane lane = Lane::f32;
  // A float32 Add/Subtract fused with the Multiply that feeds it (its only use):
  // op(args[0] * args[1], args[2]), or op(args[2], args[0] * args[1]) with c_first.
  bool of_product = false;
  bool c_first = false;
};

// Folds each float32 Multiply whose only use is an Add or Subtract into that step, so the
// product stays in registers (still rounded to float32 before the sum: the same bits as the
// two kernels). Affine pieces such as 2 * x + 1 are common in elementwise chains.
void fuse_products(std::vector<Step>& steps, int output, int num_values) {
  std::vector<int> uses(size_t(num_values), 0), producer(size_t(num_values), -1);
  for (size_t i = 0; i < steps.size(); ++i) {
    for (int k = 0; k < steps[i].nargs; ++k) ++uses[size_t(steps[i].args[k])];
    producer[size_t(steps[i].dst)] = int(i);
  }
  ++uses[size_t(output)];
  std::vector<bool> gone(steps.size(), false);
  for (auto& s : steps) {
    const auto op = BinaryOp(s.op);
    if (s.kind != PrimitiveKind::Binary || s.lane != Lane::f32 || s.of_product ||
        (op != BinaryOp::Add && op != BinaryOp::Subtract)) {
      continue;
    }
    for (int k = 0; k < 2; ++k) {
      const int v = s.args[k];
      const int pi = producer[size_t(v)];
      if (pi < 0 || uses[size_t(v)] != 1) continue;
      const Step& m = steps[size_t(pi)];
      if (m.kind != PrimitiveKind::Binary || BinaryOp(m.op) != BinaryOp::Multiply || m.lane != Lane::f32) continue;
      const int c = s.args[1 - k];
      s.args[0] = m.args[0];
      s.args[1] = m.args[1];
      s.args[2] = c;
      s.nargs = 3;
      s.of_product = true;
      s.c_first = k == 1 && op == BinaryOp::Subtract;
      gone[size_t(pi)] = true;
      break;
    }
  }
  size_t w = 0;
  for (size_t i = 0; i < steps.size(); ++i)
    if (!gone[i]) steps[w++] = steps[i];
  steps.resize(w);
}

struct Program {
  int num_inputs = 0;
  std::vector<Lane> input_lane;
  std::vector<Step> steps;
  std::vector<int> slot;  // per value: scratch row of a step result, -1 otherwise
  int num_slots = 0;
  int output = 0;
};

std::optional<Program> lower(const detail::CompiledGraph& g) {
  if (!g.constants.empty() || g.outputs.size() != 1) return std::nullopt;
  const int nv = g.num_values();
  Program p;
  p.num_inputs = g.num_inputs;
  std::vector<int> alias(static_cast<size_t>(nv));
  std::iota(alias.begin(), alias.end(), 0);
  for (int i = 0; i < g.num_inputs; ++i) {
    Lane l = lane_of(g.dtypes[size_t(i)]);
    if (l == Lane::none) return std::nullopt;
    p.input_lane.push_back(l);
  }
  for (auto& n : g.nodes) {
    if (n.outputs.size() != 1 || n.inputs.empty()) return std::nullopt;
    const int out = n.outputs[0];
    const Lane lo = lane_of(g.dtypes[size_t(out)]);
    const Lane li = lane_of(g.dtypes[size_t(n.inputs[0])]);
    if (lo == Lane::none || li == Lane::none) return std::nullopt;
    Step s;
    s.kind = n.prim->kind();
    s.dst = out;
    s.lane = lo;
    s.nargs = int(n.inputs.size());
    if (s.nargs > 3) return std::nullopt;
    for (int k = 0; k < s.nargs; ++k) s.args[k] = alias[size_t(n.inputs[size_t(k)])];
    switch (s.kind) {
      case PrimitiveKind::Broadcast:
      case PrimitiveKind::Copy:
        alias[size_t(out)] = s.args[0];
        continue;
      case PrimitiveKind::AsType:
        // Widening (to float32, or from bool) keeps the lanes as they are.
        if (li == lo || lo == Lane::f32 || (li == Lane::b && lo != Lane::b)) {
          alias[size_t(out)] = s.args[0];
          continue;
        }
        break;
      case PrimitiveKind::Unary: {
        auto op = static_cast<const Unary&>(*n.prim).op();
        if (op == UnaryOp::StopGradient) {
          alias[size_t(out)] = s.args[0];
          continue;
        }
        if (!op_accepts(unary_info(op).types, float32)) return std::nullopt;
        s.op = uint8_t(op);
        break;
      }
      case PrimitiveKind::Binary: {
        auto op = static_cast<const Binary&>(*n.prim).op();
        if (!op_accepts(binary_info(op).types, float32)) return std::nullopt;
        s.op = uint8_t(op);
        break;
      }
      case PrimitiveKind::Select:
        break;
      default:
        return std::nullopt;
    }
    p.steps.push_back(s);
  }
  p.output = alias[size_t(g.outputs[0])];
  if (p.output < g.num_inputs) return std::nullopt;  // nothing to compute
  fuse_products(p.steps, p.output, nv);

  // Scratch rows: a step result lives from its step to its last use; a step may write over
  // an argument that dies there (every step is elementwise at the same index).
  std::vector<int> last_use(size_t(nv), -1);
  for (size_t i = 0; i < p.steps.size(); ++i)
    for (int k = 0; k < p.steps[i].nargs; ++k) last_use[size_t(p.steps[i].args[k])] = int(i);
  last_use[size_t(p.output)] = int(p.steps.size());
  p.slot.assign(size_t(nv), -1);
  std::vector<int> free_slots;
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    for (int k = 0; k < s.nargs; ++k) {
      int a = s.args[k];
      bool first = std::find(s.args, s.args + k, a) == s.args + k;
      if (first && p.slot[size_t(a)] >= 0 && last_use[size_t(a)] == int(i)) free_slots.push_back(p.slot[size_t(a)]);
    }
    if (free_slots.empty()) {
      p.slot[size_t(s.dst)] = p.num_slots++;
    } else {
      p.slot[size_t(s.dst)] = free_slots.back();
      free_slots.pop_back();
    }
  }
  return p;
}

// A block's view of one value: n lanes at p, or one lane broadcast over the block.
struct Ref {
  const float* p = nullptr;
  bool scalar = false;
};

template <typename F>
void for_lanes(float* d, int64_t n, Ref a, F f) {
  if (a.scalar) {
    float v = f(a.p[0]);
    std::fill(d, d + n, v);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = f(a.p[i]);
  }
}

void run_unary(UnaryOp op, Ref a, float* d, int64_t n) {
  if (!a.scalar && simd::unary_f32(op, a.p, d, n)) return;
  dispatch_enum(op, [&](auto op_c) {
    constexpr UnaryOp kOp = decltype(op_c)::value;
    if constexpr (unary_accepts<float>(kOp) && kOp != UnaryOp::StopGradient) {
      for_lanes(d, n, a, [](float x) { return static_cast<float>(scalar::unary<kOp>(x)); });
    }
  });
}

void run_binary(BinaryOp op, Ref a, Ref b, float* d, int64_t n) {
  if (!(a.scalar && b.scalar) && simd::binary_f32(op, a.p, a.scalar, b.p, b.scalar, d, n)) return;
  dispatch_enum(op, [&](auto op_c) {
    constexpr BinaryOp kOp = decltype(op_c)::value;
    if constexpr (binary_accepts<float>(kOp)) {
      auto f = [](float x, float y) { return static_cast<float>(scalar::binary<kOp>(x, y)); };
      if (a.scalar && b.scalar) {
        std::fill(d, d + n, f(a.p[0], b.p[0]));
      } else if (a.scalar) {
        const float x = a.p[0];
        for (int64_t i = 0; i < n; ++i) d[i] = f(x, b.p[i]);
      } else if (b.scalar) {
        const float y = b.p[0];
        for (int64_t i = 0; i < n; ++i) d[i] = f(a.p[i], y);
      } else {
        for (int64_t i = 0; i < n; ++i) d[i] = f(a.p[i], b.p[i]);
      }
    }
  });
}

// op(a * b, c) (or op(c, a * b)), the product rounded first; tmp: a scratch row for the
// two-pass form the SIMD kernel does not take (a and b both single values).
void run_product_then(BinaryOp op, bool c_first, Ref a, Ref b, Ref c, float* d, int64_t n, float* tmp) {
  if (a.scalar) std::swap(a, b);
  if (!a.scalar && simd::mul_then_f32(op, c_first, a.p, b.p, b.scalar, c.p, c.scalar, d, n)) return;
  run_binary(BinaryOp::Multiply, a, b, tmp, n);
  const Ref t{tmp, a.scalar && b.scalar};
  if (c_first) run_binary(op, c, t, d, n);
  else run_binary(op, t, c, d, n);
}

void run_select(Ref c, Ref x, Ref y, float* d, int64_t n) {
  if (!c.scalar && !x.scalar && !y.scalar) {
    for (int64_t i = 0; i < n; ++i) d[i] = c.p[i] != 0.f ? x.p[i] : y.p[i];
    return;
  }
  const int64_t sc = c.scalar ? 0 : 1, sx = x.scalar ? 0 : 1, sy = y.scalar ? 0 : 1;
  for (int64_t i = 0; i < n; ++i) d[i] = c.p[i * sc] != 0.f ? x.p[i * sx] : y.p[i * sy];
}

// Rounds float32 lanes to float16/bfloat16 values (round to nearest even, as the unfused
// kernels store them).
void round_lanes(float* d, int64_t n, Lane lane, uint16_t* tmp) {
  if (lane != Lane::f16 && lane != Lane::bf16) return;
  simd::f32_to_16(d, tmp, size_t(n), lane == Lane::bf16);
  simd::f16_to_32(tmp, d, size_t(n), lane == Lane::bf16);
}

float load_lane(const char* base, Lane lane, int64_t off) {
  switch (lane) {
    case Lane::f32: return reinterpret_cast<const float*>(base)[off];
    case Lane::f16: return detail::half_to_float(reinterpret_cast<const uint16_t*>(base)[off]);
    case Lane::bf16: {
      uint32_t bits = uint32_t(reinterpret_cast<const uint16_t*>(base)[off]) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case Lane::b: return reinterpret_cast<const bool*>(base)[off] ? 1.f : 0.f;
    default: return 0.f;
  }
}

// n lanes from base + off stepping by `stride` elements.
void gather_lanes(const char* base, Lane lane, int64_t off, int64_t stride, int64_t n, float* d) {
  if (stride == 1 && (lane == Lane::f16 || lane == Lane::bf16)) {
    simd::f16_to_32(reinterpret_cast<const uint16_t*>(base) + off, d, size_t(n), lane == Lane::bf16);
    return;
  }
  if (lane == Lane::f32) {
    const float* s = reinterpret_cast<const float*>(base) + off;
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
    return;
  }
  for (int64_t i = 0; i < n; ++i) d[i] = load_lane(base, lane, off + i * stride);
}

struct Operand {
  const char* base;
  Lane lane;
  Strides st;       // collapsed, per dim of the iteration shape
  bool everywhere;  // one value for the whole output
  bool flat;        // same dense layout as the output
  float value;      // when everywhere
};

}  // namespace

void cpu_compiled(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  const auto& graph = static_cast<const Compiled&>(p).graph();
  std::optional<Program> prog = out.size() == 1 ? lower(graph) : std::nullopt;
  if (!prog) {
    run_decomposition(p, in, out);
    return;
  }
  array& o = out[0];
  const Lane out_lane = lane_of(o.dtype());
  prepare_output(o, in);
  if (o.size() == 0) return;

  // Iteration space: the output shape with every input broadcast into it, dims collapsed.
  Shape shape = o.shape();
  const size_t nd = shape.size();
  std::vector<Strides> st;
  for (auto& a : in) {
    Strides s(nd, 0);
    const size_t off = nd - a.ndim();
    for (size_t d = 0; d < a.ndim(); ++d) s[off + d] = a.shape()[d] == 1 ? 0 : a.strides()[d];
    st.push_back(std::move(s));
  }
  st.push_back(row_strides(shape));
  collapse_dims(shape, st);
  const Strides out_st = st.back();
  const int64_t L = shape.empty() ? 1 : shape.back();
  const int64_t total = int64_t(o.size());
  const int64_t rows = total / L;

  std::vector<Operand> ops;
  for (size_t i = 0; i < in.size(); ++i) {
    Operand op{static_cast<const char*>(in[i].raw_data()), prog->input_lane[i], st[i], true, false, 0.f};
    for (auto s : op.st) op.everywhere = op.everywhere && s == 0;
    op.flat = op.st == out_st;
    if (op.everywhere) op.value = load_lane(op.base, op.lane, 0);
    ops.push_back(std::move(op));
  }

  const bool within_row = L >= kMinRowBlock || rows == 1;
  const int64_t per_row = within_row ? (L + kBlock - 1) / kBlock : 1;
  const int64_t chunk = within_row ? (L + per_row - 1) / per_row : 0;
  const int64_t rows_per_block = within_row ? 1 : std::max<int64_t>(1, kBlock / L);
  const int64_t nblocks = within_row ? rows * per_row : (rows + rows_per_block - 1) / rows_per_block;

  float* const out_f32 = out_lane == Lane::f32 ? o.data<float>() : nullptr;
  // Large float32 outputs are written with streaming stores from a result row, during the
  // next block (see memory_slice below).
  const bool stream = out_f32 && total >= kStreamMin;
  const Program& pg = *prog;
  const int nv = graph.num_values();
  // Slots, gather rows, two rows for results awaiting their streamed write, a row for
  // products, a 16-bit row.
  const size_t scratch_floats = size_t(pg.num_slots + int(in.size()) + 3) * kBlock + kBlock / 2 + 64;

  auto body = [&](int64_t b0, int64_t b1) {
    float* scratch = static_cast<float*>(thread_scratch(scratch_floats * sizeof(float)));
    float* slots = scratch;
    float* gather = scratch + size_t(pg.num_slots) * kBlock;
    float* results = gather + in.size() * kBlock;
    float* product = results + 2 * kBlock;
    uint16_t* tmp16 = reinterpret_cast<uint16_t*>(product + kBlock);
    std::vector<Ref> ref(static_cast<size_t>(nv));
    std::vector<float> sval(static_cast<size_t>(nv));
    std::vector<int64_t> idx(shape.size() > 0 ? shape.size() - 1 : 0);
    auto range = [&](int64_t b, int64_t& r0, int64_t& c0, int64_t& n) {
      if (within_row) {
        r0 = b / per_row;
        c0 = (b % per_row) * chunk;
        n = std::min(chunk, L - c0);
      } else {
        r0 = b * rows_per_block;
        c0 = 0;
        n = std::min(rows_per_block, rows - r0) * L;
      }
    };
    // Memory traffic is spread over the compute of the next block, a slice per step: the
    // previous block's result is streamed out and the next block's dense inputs are
    // prefetched. Done in bursts between blocks instead, the core would stall on memory and
    // then compute with the memory idle. The prefetches go to L2: into L1 they held the line
    // fill buffers long enough to stall the core on them (a quarter of a 16M chain's samples),
    // and 16M chains ran ~8% slower on two threads.
    struct Pending {
      const float* src = nullptr;
      float* dst = nullptr;
      int64_t n = 0, done = 0;
    } pend;
    auto write_pending = [&](int64_t upto) {
      upto = std::min(pend.n, upto);
      if (upto <= pend.done) return;
      fused::stream_copy_f32(pend.src + pend.done, pend.dst + pend.done, upto - pend.done);
      pend.done = upto;
    };
    std::vector<std::pair<const char*, int64_t>> next;  // (first byte, bytes) to prefetch
    auto memory_slice = [&](size_t k, size_t parts) {
      if (pend.src) write_pending((pend.n * int64_t(k + 1) / int64_t(parts) + 15) & ~int64_t(15));
      for (auto& [p, bytes] : next) {
        const int64_t lines = (bytes + 63) / 64;
        for (int64_t l = lines * int64_t(k) / int64_t(parts); l < lines * int64_t(k + 1) / int64_t(parts); ++l) {
          __builtin_prefetch(p + l * 64, 0, 2);
        }
      }
    };
    for (int64_t b = b0; b < b1; ++b) {
      int64_t r0, c0, n;
      range(b, r0, c0, n);
      const int64_t e0 = r0 * L + c0;  // flat output offset
      next.clear();
      if (b + 1 < b1 && total >= kStreamMin) {
        int64_t r1, c1, n1;
        range(b + 1, r1, c1, n1);
        for (auto& op : ops) {
          if (!op.flat || op.everywhere) continue;
          const int64_t isz = op.lane == Lane::f32 ? 4 : op.lane == Lane::b ? 1 : 2;
          next.emplace_back(op.base + (r1 * L + c1) * isz, n1 * isz);
        }
      }
      // Multi-index of row r0 over the outer dims.
      {
        int64_t r = r0;
        for (size_t d = idx.size(); d-- > 0;) {
          idx[d] = r % shape[d];
          r /= shape[d];
        }
      }
      for (size_t i = 0; i < ops.size(); ++i) {
        const Operand& op = ops[i];
        Ref& rf = ref[i];
        if (op.everywhere) {
          sval[i] = op.value;
          rf = {&sval[i], true};
          continue;
        }
        float* g = gather + i * kBlock;
        if (op.flat) {
          if (op.lane == Lane::f32) rf = {reinterpret_cast<const float*>(op.base) + e0, false};
          else {
            gather_lanes(op.base, op.lane, e0, 1, n, g);
            rf = {g, false};
          }
          continue;
        }
        int64_t row_off = 0;
        for (size_t d = 0; d < idx.size(); ++d) row_off += idx[d] * op.st[d];
        const int64_t inner = op.st.empty() ? 0 : op.st.back();
        if (within_row) {
          const int64_t off = row_off + c0 * inner;
          if (inner == 0) {
            sval[i] = load_lane(op.base, op.lane, off);
            rf = {&sval[i], true};
          } else if (inner == 1 && op.lane == Lane::f32) {
            rf = {reinterpret_cast<const float*>(op.base) + off, false};
          } else {
            gather_lanes(op.base, op.lane, off, inner, n, g);
            rf = {g, false};
          }
          continue;
        }
        // Several short rows: walk them with an odometer over the outer dims.
        std::vector<int64_t> k = idx;
        for (int64_t done = 0; done < n; done += L) {
          int64_t off = 0;
          for (size_t d = 0; d < k.size(); ++d) off += k[d] * op.st[d];
          gather_lanes(op.base, op.lane, off, inner, L, g + done);
          for (size_t d = k.size(); d-- > 0;) {
            if (++k[d] < shape[d]) break;
            k[d] = 0;
          }
        }
        rf = {g, false};
      }

      for (size_t si = 0; si < pg.steps.size(); ++si) {
        const Step& s = pg.steps[si];
        Ref a[3];
        bool all_scalar = true;
        for (int k = 0; k < s.nargs; ++k) {
          a[k] = ref[size_t(s.args[k])];
          all_scalar = all_scalar && a[k].scalar;
        }
        const bool result = si + 1 == pg.steps.size() && s.dst == pg.output;
        float* d = all_scalar                            ? &sval[size_t(s.dst)]
                   : (result && out_f32 && !stream)      ? out_f32 + e0
                   : (result && stream)                  ? results + (b & 1) * kBlock
                                                         : slots + size_t(pg.slot[size_t(s.dst)]) * kBlock;
        const int64_t m = all_scalar ? 1 : n;
        switch (s.kind) {
          case PrimitiveKind::Unary:
            run_unary(UnaryOp(s.op), a[0], d, m);
            break;
          case PrimitiveKind::Binary:
            if (s.of_product) run_product_then(BinaryOp(s.op), s.c_first, a[0], a[1], a[2], d, m, product);
            else run_binary(BinaryOp(s.op), a[0], a[1], d, m);
            break;
          case PrimitiveKind::Select:
            run_select(a[0], a[1], a[2], d, m);
            break;
          default:  // AsType that narrows
            if (s.lane == Lane::b) for_lanes(d, m, a[0], [](float x) { return x != 0.f ? 1.f : 0.f; });
            else for_lanes(d, m, a[0], [](float x) { return x; });
            break;
        }
        if (s.kind != PrimitiveKind::Select) round_lanes(d, m, s.lane, tmp16);
        ref[size_t(s.dst)] = {d, all_scalar};
        memory_slice(si, pg.steps.size());
      }
      if (pend.src) write_pending(pend.n);
      pend.src = nullptr;

      const Ref res = ref[size_t(pg.output)];
      switch (out_lane) {
        case Lane::f32:
          if (res.p != out_f32 + e0) {
            if (res.scalar) std::fill(out_f32 + e0, out_f32 + e0 + n, res.p[0]);
            else if (stream && res.p == results + (b & 1) * kBlock) pend = {res.p, out_f32 + e0, n, 0};
            else if (stream) fused::stream_copy_f32(res.p, out_f32 + e0, n);
            else std::memcpy(out_f32 + e0, res.p, size_t(n) * sizeof(float));
          }
          break;
        case Lane::f16:
        case Lane::bf16: {
          uint16_t* d = o.data<uint16_t>() + e0;
          if (res.scalar) {
            uint16_t v;
            simd::f32_to_16(res.p, &v, 1, out_lane == Lane::bf16);
            std::fill(d, d + n, v);
          } else {
            simd::f32_to_16(res.p, d, size_t(n), out_lane == Lane::bf16);
          }
          break;
        }
        default: {
          bool* d = o.data<bool>() + e0;
          for (int64_t i = 0; i < n; ++i) d[i] = res.p[res.scalar ? 0 : i] != 0.f;
          break;
        }
      }
    }
    if (pend.src) write_pending(pend.n);
    if (stream) fused::stream_fence();
  };
  if (total >= 2 * kElementwiseGrain && nblocks > 1) {
    parallel_for(nblocks, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, total / nblocks)), body);
  } else {
    body(0, nblocks);
  }
}

}  // namespace tessera
