// Convolutions (MLX semantics, channels-last): conv1d/2d/3d, conv_general and the transposed
// convolutions. Everything builds one Convolution primitive; a transposed convolution is the
// flipped convolution of the stride-dilated input (as MLX computes it).
#include <sstream>

#include "ops/op_utils.h"
#include "primitives/conv.h"

namespace tessera {

namespace {

std::string vec_str(const std::vector<int>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}

// Dimension names for messages: [N, L, C_in], [N, H, W, C_in], [N, D, H, W, C_in], ...
std::string layout_str(int spatial, const char* batch, const char* channels) {
  static const char* names1[] = {"L"};
  static const char* names2[] = {"H", "W"};
  static const char* names3[] = {"D", "H", "W"};
  std::ostringstream os;
  os << "[" << batch;
  for (int i = 0; i < spatial; ++i) {
    os << ", ";
    if (spatial == 1) os << names1[i];
    else if (spatial == 2) os << names2[i];
    else if (spatial == 3) os << names3[i];
    else os << "S" << i;
  }
  os << ", " << channels << "]";
  return os.str();
}

void check_ndim(const char* op, const array& in, const array& wt, int spatial) {
  if (int(in.ndim()) != spatial + 2) {
    throw_invalid(op, "Expected an input with ", spatial + 2, " dimensions ", layout_str(spatial, "N", "C_in"),
                  " but got shape ", shape_str(in.shape()), ".");
  }
  if (int(wt.ndim()) != spatial + 2) {
    throw_invalid(op, "Expected a weight with ", spatial + 2, " dimensions ", layout_str(spatial, "C_out", "C_in"),
                  " but got shape ", shape_str(wt.shape()), " (input shape ", shape_str(in.shape()), ").");
  }
}

void check_positive(const char* op, const char* what, const std::vector<int>& v) {
  for (int x : v) {
    if (x <= 0) throw_invalid(op, what, " must be positive in every dimension but got ", vec_str(v), ".");
  }
}

// The checked core of every convolution op. Parameter vectors have one entry per spatial dim.
array conv_impl(const char* op, array in, array wt, int spatial, std::vector<int> stride,
                std::vector<int> padding_lo, std::vector<int> padding_hi, std::vector<int> kernel_dilation,
                std::vector<int> input_dilation, int groups, bool flip, StreamOrDevice s) {
  check_ndim(op, in, wt, spatial);
  Dtype d = promote_types(in.dtype(), wt.dtype());
  if (!issubdtype(d, floating)) {
    throw_invalid(op, "Only real floating point types are supported but input ", dtype_name(in.dtype()),
                  " and weight ", dtype_name(wt.dtype()), " were provided which results in ", dtype_name(d), ".");
  }
  auto check_size = [&](const char* what, const std::vector<int>& v) {
    if (int(v.size()) != spatial) {
      throw_invalid(op, what, " needs ", spatial, " values (one per spatial dimension) but got ", vec_str(v), ".");
    }
  };
  check_size("stride", stride);
  check_size("padding_lo", padding_lo);
  check_size("padding_hi", padding_hi);
  check_size("kernel_dilation", kernel_dilation);
  check_size("input_dilation", input_dilation);
  check_positive(op, "stride", stride);
  check_positive(op, "kernel_dilation", kernel_dilation);
  check_positive(op, "input_dilation", input_dilation);
  if (groups <= 0) throw_invalid(op, "groups must be positive but got ", groups, ".");
  int64_t c_in = in.shape(-1), c_out = wt.shape(0);
  if (c_in % groups != 0) {
    throw_invalid(op, "The input channels (", c_in, ") must be divisible by groups (", groups, "); input shape ",
                  shape_str(in.shape()), ".");
  }
  if (c_out % groups != 0) {
    throw_invalid(op, "The output channels (", c_out, ") must be divisible by groups (", groups, "); weight shape ",
                  shape_str(wt.shape()), ".");
  }
  if (int64_t(wt.shape(-1)) * groups != c_in) {
    throw_invalid(op, "Expected the weight's last dimension to be input channels / groups = ", c_in, " / ", groups,
                  " = ", c_in / groups, " but got input shape ", shape_str(in.shape()), " and weight shape ",
                  shape_str(wt.shape()), ".");
  }
  Shape out_shape{in.shape(0)};
  for (int i = 0; i < spatial; ++i) {
    int64_t len = in.shape(1 + i), k = wt.shape(1 + i);
    if (k <= 0) {
      throw_invalid(op, "The weight's kernel sizes must be positive but got weight shape ", shape_str(wt.shape()), ".");
    }
    int64_t dilated = len == 0 ? 0 : (len - 1) * input_dilation[i] + 1;
    int64_t padded = dilated + padding_lo[i] + padding_hi[i];
    int64_t extent = (k - 1) * kernel_dilation[i] + 1;
    if (padded < extent) {
      throw_invalid(op, "The output size would be non-positive in spatial dimension ", i, ": input shape ",
                    shape_str(in.shape()), " (padded and dilated size ", padded, ") and weight shape ",
                    shape_str(wt.shape()), " (dilated kernel size ", extent, ") with stride ", vec_str(stride),
                    ", padding ", vec_str(padding_lo), "/", vec_str(padding_hi), ", kernel dilation ",
                    vec_str(kernel_dilation), " and input dilation ", vec_str(input_dilation), ".");
    }
    out_shape.push_back(int((padded - extent) / stride[i] + 1));
  }
  out_shape.push_back(int(c_out));
  in = astype(in, d, s);
  wt = astype(wt, d, s);
  return make_node<Convolution>(std::move(out_shape), d, {in, wt}, to_stream(s), std::move(stride),
                                std::move(padding_lo), std::move(padding_hi), std::move(kernel_dilation),
                                std::move(input_dilation), groups, flip);
}

// Transposed convolution with weight [C_out, kernel..., C_in / groups]: the flipped convolution
// of the input dilated by `stride`, padded by dilation * (k - 1) - padding on both sides and
// output_padding more on the high side.
array conv_transpose_impl(const char* op, const array& in, const array& wt, int spatial, std::vector<int> stride,
                          std::vector<int> padding, std::vector<int> dilation, std::vector<int> output_padding,
                          int groups, StreamOrDevice s) {
  check_ndim(op, in, wt, spatial);
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  for (int p : output_padding) {
    if (p < 0) throw_invalid(op, "output_padding must be non-negative but got ", vec_str(output_padding), ".");
  }
  std::vector<int> lo(spatial), hi(spatial);
  for (int i = 0; i < spatial; ++i) {
    int k = wt.shape(1 + i);
    lo[i] = dilation[i] * (k - 1) - padding[i];
    hi[i] = lo[i] + output_padding[i];
  }
  return conv_impl(op, in, wt, spatial, std::vector<int>(spatial, 1), std::move(lo), std::move(hi),
                   std::move(dilation), std::move(stride), groups, true, s);
}

std::vector<int> vec2(const std::pair<int, int>& p) { return {p.first, p.second}; }
std::vector<int> vec3(const std::tuple<int, int, int>& t) {
  return {std::get<0>(t), std::get<1>(t), std::get<2>(t)};
}

}  // namespace

array conv1d(const array& input, const array& weight, int stride, int padding, int dilation, int groups,
             StreamOrDevice s) {
  return conv_impl("conv1d", input, weight, 1, {stride}, {padding}, {padding}, {dilation}, {1}, groups, false, s);
}

array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride,
             const std::pair<int, int>& padding, const std::pair<int, int>& dilation, int groups, StreamOrDevice s) {
  return conv_impl("conv2d", input, weight, 2, vec2(stride), vec2(padding), vec2(padding), vec2(dilation), {1, 1},
                   groups, false, s);
}

array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
             const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation, int groups,
             StreamOrDevice s) {
  return conv_impl("conv3d", input, weight, 3, vec3(stride), vec3(padding), vec3(padding), vec3(dilation),
                   {1, 1, 1}, groups, false, s);
}

array conv_general(array input, array weight, std::vector<int> stride, std::vector<int> padding_lo,
                   std::vector<int> padding_hi, std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups, bool flip, StreamOrDevice s) {
  if (input.ndim() < 3) {
    throw_invalid("conv_general", "Expected an input [N, spatial..., C_in] with at least 3 dimensions but got shape ",
                  shape_str(input.shape()), ".");
  }
  int spatial = int(input.ndim()) - 2;
  // A missing or single value applies to every spatial dimension (as in MLX).
  auto expand = [spatial](std::vector<int>& v, int dflt) {
    if (v.size() <= 1) v = std::vector<int>(size_t(spatial), v.empty() ? dflt : v[0]);
  };
  expand(stride, 1);
  expand(padding_lo, 0);
  expand(padding_hi, 0);
  expand(kernel_dilation, 1);
  expand(input_dilation, 1);
  return conv_impl("conv_general", std::move(input), std::move(weight), spatial, std::move(stride),
                   std::move(padding_lo), std::move(padding_hi), std::move(kernel_dilation), std::move(input_dilation),
                   groups, flip, s);
}

array conv_transpose1d(const array& input, const array& weight, int stride, int padding, int dilation,
                       int output_padding, int groups, StreamOrDevice s) {
  return conv_transpose_impl("conv_transpose1d", input, weight, 1, {stride}, {padding}, {dilation}, {output_padding},
                             groups, s);
}

array conv_transpose2d(const array& input, const array& weight, const std::pair<int, int>& stride,
                       const std::pair<int, int>& padding, const std::pair<int, int>& dilation,
                       const std::pair<int, int>& output_padding, int groups, StreamOrDevice s) {
  return conv_transpose_impl("conv_transpose2d", input, weight, 2, vec2(stride), vec2(padding), vec2(dilation),
                             vec2(output_padding), groups, s);
}

array conv_transpose3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
                       const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation,
                       const std::tuple<int, int, int>& output_padding, int groups, StreamOrDevice s) {
  return conv_transpose_impl("conv_transpose3d", input, weight, 3, vec3(stride), vec3(padding), vec3(dilation),
                             vec3(output_padding), groups, s);
}

}  // namespace tessera
