// Printing arrays like MLX: array([[1, 2],\n       [3, 4]], dtype=int32)
#include <iomanip>
#include <sstream>

#include "core/dispatch.h"
#include "ops/op_utils.h"

namespace tessera {

namespace {

template <typename T>
void print_value(std::ostream& os, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "true" : "false");
  } else if constexpr (is_complex_v<T>) {
    os << v.real() << (v.imag() < 0 ? "-" : "+") << std::abs(v.imag()) << "j";
  } else if constexpr (is_float_v<T>) {
    os << static_cast<double>(static_cast<float>(v));
  } else if constexpr (sizeof(T) == 1) {
    os << int(v);
  } else {
    os << v;
  }
}

template <typename T>
void print_rec(std::ostream& os, const array& a, int dim, int64_t offset, int indent) {
  if (a.ndim() == 0) {
    print_value(os, a.data<T>()[offset]);
    return;
  }
  os << "[";
  int n = a.shape(dim);
  bool summarize = n > 1000 / std::max<int>(1, int(a.ndim()));
  for (int i = 0; i < n; ++i) {
    if (summarize && i == 3 && n > 6) {
      os << "...";
      i = n - 3;
      if (dim + 1 < int(a.ndim())) os << ",\n" << std::string(size_t(indent + 1), ' ');
      else os << ", ";
    }
    int64_t off = offset + int64_t(i) * a.strides()[dim];
    if (dim + 1 == int(a.ndim())) print_value(os, a.data<T>()[off]);
    else print_rec<T>(os, a, dim + 1, off, indent + 1);
    if (i + 1 < n) {
      if (dim + 1 < int(a.ndim())) os << "," << std::string(a.ndim() - dim - 1, '\n') << std::string(size_t(indent + 1), ' ');
      else os << ", ";
    }
  }
  os << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const array& in) {
  array a = in;
  a.eval();
  os << "array(";
  dispatch_all_types(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    print_rec<T>(os, a, 0, 0, 6);
  });
  os << ", dtype=" << a.dtype() << ")";
  return os;
}

std::ostream& operator<<(std::ostream& os, const Shape& v) { return os << shape_str(v); }

std::ostream& operator<<(std::ostream& os, const Strides& v) {
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os << ")";
}

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies) {
  // Evaluating the inputs after their dependencies gives the same effect as a Depends node
  // for a backend without one; transforms treat these arrays as pass-throughs.
  std::vector<array> all = dependencies;
  eval(all);
  return inputs;
}

}  // namespace tessera
