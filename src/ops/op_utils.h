// Helpers shared by the public ops: argument checks with "[op]" messages, axis
// normalization, broadcasting and dtype rules.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/node_pool.h"
#include "primitives/primitive.h"
#include "tessera/ops.h"

namespace tessera {

std::string shape_str(const Shape& s);
// "[2, 3]": the form the nn, optimizer and model loaders' messages use.
std::string shape_list(const Shape& s);

template <typename... Args>
[[noreturn]] void throw_invalid(const char* op, Args&&... args) {
  std::ostringstream os;
  os << "[" << op << "] ";
  (os << ... << args);
  throw std::invalid_argument(os.str());
}

template <typename... Args>
[[noreturn]] void throw_range(const char* op, Args&&... args) {
  std::ostringstream os;
  os << "[" << op << "] ";
  (os << ... << args);
  throw std::out_of_range(os.str());
}

// Maps axis in [-ndim, ndim) to [0, ndim); throws std::out_of_range otherwise.
int normalize_axis(int axis, int ndim, const char* op);
// Normalizes, sorts and checks for duplicates.
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast_shapes");

// Float type an op computes in for inputs of dtype d: floats keep theirs, integers and bool
// become float32 (as MLX does).
Dtype at_least_float(Dtype d);

// Python slice semantics for one axis of size n: clamps start/stop for the (non-zero) step.
void normalize_slice(int n, int& start, int& stop, int step);
// Number of elements a normalized slice selects.
int slice_len(int start, int stop, int step);

// Accumulator dtype of sums and products (and their scans): small integers and bool widen to
// 32 bits, as in MLX.
Dtype accumulation_dtype(Dtype d);

// Makes a graph node for a single-output primitive.
template <typename P, typename... Args>
array make_node(Shape shape, Dtype dtype, std::vector<array> inputs, Stream s, Args&&... args) {
  return array(std::move(shape), dtype, std::allocate_shared<P>(node_pool::Allocator<P>{}, s, std::forward<Args>(args)...),
               std::move(inputs));
}

}  // namespace tessera
