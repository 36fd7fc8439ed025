// Transform rules of Convolution. Both derivatives are convolutions again, with the roles of
// stride and dilation exchanged; no im2col-sized intermediates appear in the graph.
//
// Per spatial dim, with x_hat the input dilated by idil and w'[k] = w[flip ? K - 1 - k : k]:
//   y[o] = sum_k x_hat[o * s - lo + k * kd] * w'[k].
// Input: x_hat[p] receives cot[o] * w'[k] wherever o * s - lo + k * kd = p. With the cotangent
//   dilated by s this is a convolution of the cotangent with the reversed kernel (flip toggles),
//   padding (K - 1) * kd - lo in front, kernel dilation kd, and stride idil so that only the
//   positions of real input elements are computed.
// Weight: w'[k] receives sum_o x_hat[k * kd + o * s - lo] * cot[o]: a convolution of the input
//   (dilation idil, padding lo) with the cotangent as kernel (kernel dilation s), stride kd. The
//   image axis N becomes the contracted channel axis and C_in the image axis; groups stay
//   groups (input channels g * N + n, output channels as in the weight).
#include "primitives/conv.h"

#include "tessera/ops.h"

namespace tessera {

namespace {

array convolve(const Convolution& p, const array& x, const array& w, const Stream& s) {
  return conv_general(x, w, p.stride(), p.padding_lo(), p.padding_hi(), p.kernel_dilation(), p.input_dilation(),
                      p.groups(), p.flip(), s);
}

std::vector<int> iota_from(int first, int count) {
  std::vector<int> v(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) v[size_t(i)] = first + i;
  return v;
}

array input_cotangent(const Convolution& p, const array& cot, const array& x, const array& w, const Stream& s) {
  int D = int(x.ndim()) - 2, G = p.groups();
  int cout = w.shape(0), cig = w.shape(-1), cog = cout / G;
  // [C_out, K..., C_in/G] -> [C_in, K..., C_out/G]: within each group, input and output
  // channels trade places.
  Shape grouped{G, cog}, swapped{G * cig};
  for (int d = 0; d < D; ++d) {
    grouped.push_back(w.shape(1 + d));
    swapped.push_back(w.shape(1 + d));
  }
  grouped.push_back(cig);
  swapped.push_back(cog);
  std::vector<int> perm{0, D + 2};
  for (int d : iota_from(2, D)) perm.push_back(d);
  perm.push_back(1);
  array wt = reshape(transpose(reshape(w, grouped, s), perm, s), swapped, s);
  std::vector<int> lo(static_cast<size_t>(D)), hi(static_cast<size_t>(D));
  for (int d = 0; d < D; ++d) {
    int K = w.shape(1 + d), L = x.shape(1 + d), Lc = cot.shape(1 + d);
    int kd = p.kernel_dilation()[d], st = p.stride()[d], idil = p.input_dilation()[d], plo = p.padding_lo()[d];
    lo[d] = (K - 1) * kd - plo;
    // Exactly enough that the last computed position is the last input element.
    hi[d] = (L - 1) * idil - (Lc - 1) * st + plo;
  }
  return conv_general(cot, wt, p.input_dilation(), lo, hi, p.kernel_dilation(), p.stride(), G, !p.flip(), s);
}

array weight_cotangent(const Convolution& p, const array& cot, const array& x, const array& w, const Stream& s) {
  int D = int(x.ndim()) - 2, G = p.groups();
  int N = x.shape(0), cig = x.shape(-1) / G, cout = w.shape(0), cog = cout / G;
  // x [N, S..., G * cig] -> [cig, S..., G * N]
  Shape xg{N}, xt{cig};
  for (int d = 0; d < D; ++d) {
    xg.push_back(x.shape(1 + d));
    xt.push_back(x.shape(1 + d));
  }
  xg.push_back(G);
  xg.push_back(cig);
  xt.push_back(G * N);
  std::vector<int> xperm{D + 2};
  for (int d : iota_from(1, D)) xperm.push_back(d);
  xperm.push_back(D + 1);
  xperm.push_back(0);
  array xs = reshape(transpose(reshape(x, xg, s), xperm, s), xt, s);
  // cot [N, O..., G * cog] -> [C_out, O..., N]
  Shape cg{N}, ct{cout};
  for (int d = 0; d < D; ++d) {
    cg.push_back(cot.shape(1 + d));
    ct.push_back(cot.shape(1 + d));
  }
  cg.push_back(G);
  cg.push_back(cog);
  ct.push_back(N);
  std::vector<int> cperm{D + 1, D + 2};
  for (int d : iota_from(1, D)) cperm.push_back(d);
  cperm.push_back(0);
  array cs = reshape(transpose(reshape(cot, cg, s), cperm, s), ct, s);
  std::vector<int> hi(static_cast<size_t>(D));
  for (int d = 0; d < D; ++d) {
    int K = w.shape(1 + d), L = x.shape(1 + d), Lc = cot.shape(1 + d);
    int kd = p.kernel_dilation()[d], st = p.stride()[d], idil = p.input_dilation()[d];
    // Exactly K outputs: the forward's padding_hi less the rows its stride left unread.
    hi[d] = (K - 1) * kd + (Lc - 1) * st - (L - 1) * idil - p.padding_lo()[d];
  }
  array r = conv_general(xs, cs, p.kernel_dilation(), p.padding_lo(), hi, p.stride(), p.input_dilation(), G, false, s);
  // [cig, K..., C_out] -> [C_out, K..., cig]
  std::vector<int> rperm{D + 1};
  for (int d : iota_from(1, D)) rperm.push_back(d);
  rperm.push_back(0);
  r = transpose(r, rperm, s);
  return p.flip() ? flip(r, iota_from(1, D), s) : r;
}

}  // namespace

std::vector<array> Convolution::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  std::vector<array> out;
  for (int arg : argnums) {
    out.push_back(arg == 0 ? input_cotangent(*this, cotangents[0], primals[0], primals[1], s)
                           : weight_cotangent(*this, cotangents[0], primals[0], primals[1], s));
  }
  return out;
}

std::vector<array> Convolution::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) const {
  const Stream& s = stream();
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array term = argnums[k] == 0 ? convolve(*this, tangents[k], primals[1], s) : convolve(*this, primals[0], tangents[k], s);
    t = t ? add(*t, term, s) : term;
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> Convolution::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) const {
  const Stream& s = stream();
  const array &xb = inputs[0], &wb = inputs[1];
  int D = int(xb.ndim()) - (axes[0] >= 0 ? 3 : 2);
  int G = groups();
  if (axes[1] < 0) {
    // Batched input only: the batch joins the images.
    array x = moveaxis(xb, axes[0], 0, s);
    int V = x.shape(0), N = x.shape(1);
    Shape xs = x.shape();
    xs.erase(xs.begin());
    xs[0] = V * N;
    array y = convolve(*this, reshape(x, xs, s), wb, s);
    Shape ys = y.shape();
    ys[0] = N;
    ys.insert(ys.begin(), V);
    return {{reshape(y, ys, s)}, {0}};
  }
  array w = moveaxis(wb, axes[1], 0, s);  // [V, C_out, K..., cig]
  int V = w.shape(0), cout = w.shape(1), cog = cout / G;
  Shape wk(w.shape().begin() + 2, w.shape().end());  // K..., cig
  if (axes[0] < 0) {
    // Batched weight only: each group's output channels become V blocks of cog, so the batch
    // rides along as more output channels of the same groups.
    Shape wg{V, G, cog};
    wg.insert(wg.end(), wk.begin(), wk.end());
    std::vector<int> perm{1, 0};
    for (int d : iota_from(2, int(wk.size()) + 1)) perm.push_back(d);
    Shape wf{G * V * cog};
    wf.insert(wf.end(), wk.begin(), wk.end());
    array wfold = reshape(transpose(reshape(w, wg, s), perm, s), wf, s);
    array y = convolve(*this, xb, wfold, s);  // [N, O..., G * V * cog]
    Shape ys(y.shape().begin(), y.shape().end() - 1);
    if (G == 1) {
      ys.push_back(V);
      ys.push_back(cout);
      return {{reshape(y, ys, s)}, {D + 1}};
    }
    Shape yg = ys;
    yg.push_back(G);
    yg.push_back(V);
    yg.push_back(cog);
    ys.push_back(V);
    ys.push_back(cout);
    array yv = swapaxes(reshape(y, yg, s), D + 1, D + 2, s);  // [N, O..., V, G, cog]
    return {{reshape(yv, ys, s)}, {D + 1}};
  }
  // Both batched: V independent convolutions side by side as V * groups groups.
  array x = moveaxis(xb, axes[0], D + 1, s);  // [N, S..., V, C_in]
  Shape xs(x.shape().begin(), x.shape().end() - 2);
  xs.push_back(V * x.shape(-1));
  Shape wf{V * cout};
  wf.insert(wf.end(), wk.begin(), wk.end());
  array y = conv_general(reshape(x, xs, s), reshape(w, wf, s), stride(), padding_lo(), padding_hi(),
                         kernel_dilation(), input_dilation(), V * G, flip(), s);
  Shape ys(y.shape().begin(), y.shape().end() - 1);
  ys.push_back(V);
  ys.push_back(cout);
  return {{reshape(y, ys, s)}, {D + 1}};
}

}  // namespace tessera
