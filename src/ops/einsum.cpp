// einsum: NumPy subscript semantics (implicit and explicit output, repeated labels as
// diagonals, "..." broadcasting, size-1 broadcasting of labels) lowered onto diagonal, sum,
// transpose/reshape and matmul. Operands are contracted pairwise, greedily choosing the pair
// whose result is smallest (ties: leftmost), so chains like "ij,jk,kl" never build the big
// intermediate a fixed order might.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/op_utils.h"

namespace tessera {

namespace {

constexpr int kEllipsisBase = 256;  // label ids of the broadcast ("...") dims: 256 + position

[[noreturn]] void fail(const std::string& msg) { throw_invalid("einsum", msg); }

std::string label_str(int l) {
  if (l >= kEllipsisBase) return "... dim " + std::to_string(l - kEllipsisBase);
  return std::string("'") + char(l) + "'";
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// One term of the subscripts: its letters and where "..." sits (-1 if absent).
struct Term {
  std::vector<int> letters;
  int ellipsis_at = -1;
};

Term parse_term(const std::string& t, const std::string& all) {
  Term r;
  for (size_t i = 0; i < t.size();) {
    char c = t[i];
    if (c == '.') {
      if (t.compare(i, 3, "...") != 0) fail("Invalid subscript string '" + all + "': '.' must be part of '...'.");
      if (r.ellipsis_at >= 0) fail("Subscript string '" + all + "' has more than one '...' in a term.");
      r.ellipsis_at = int(r.letters.size());
      i += 3;
      continue;
    }
    if (!is_letter(c)) fail(std::string("Invalid character '") + c + "' in subscript string '" + all + "'.");
    r.letters.push_back(c);
    ++i;
  }
  return r;
}

// An operand during the contraction: the array and the label of each of its axes.
struct Labeled {
  array a;
  std::vector<int> labels;
};

// Sums out the axes whose labels are in `drop`.
Labeled sum_labels(Labeled x, const std::set<int>& drop, StreamOrDevice s) {
  std::vector<int> axes, keep;
  for (int i = 0; i < int(x.labels.size()); ++i) {
    if (drop.count(x.labels[i])) axes.push_back(i);
    else keep.push_back(x.labels[i]);
  }
  if (axes.empty()) return x;
  return {sum(x.a, axes, false, s), keep};
}

// Replaces repeated labels of one operand by their diagonal.
Labeled take_diagonals(Labeled x, StreamOrDevice s) {
  for (;;) {
    int i = -1, j = -1;
    for (int p = 0; p < int(x.labels.size()) && i < 0; ++p) {
      for (int q = p + 1; q < int(x.labels.size()); ++q) {
        if (x.labels[p] == x.labels[q]) {
          i = p;
          j = q;
          break;
        }
      }
    }
    if (i < 0) return x;
    int l = x.labels[i];
    if (x.a.shape(i) != x.a.shape(j)) {
      fail("Repeated label " + label_str(l) + " has different sizes " + std::to_string(x.a.shape(i)) + " and " +
           std::to_string(x.a.shape(j)) + " in one operand.");
    }
    // diagonal() removes both axes and appends the diagonal as the last one.
    x.a = diagonal(x.a, 0, i, j, s);
    std::vector<int> nl;
    for (int p = 0; p < int(x.labels.size()); ++p)
      if (p != i && p != j) nl.push_back(x.labels[p]);
    nl.push_back(l);
    x.labels = nl;
  }
}

int axis_of(const Labeled& x, int l) {
  auto it = std::find(x.labels.begin(), x.labels.end(), l);
  return it == x.labels.end() ? -1 : int(it - x.labels.begin());
}

// Product of two operands, keeping the labels in `keep` (the output's and those other operands
// still use). Labels in both and not kept are contracted through matmul; labels in both and
// kept are batch dimensions; size-1 broadcast dims are handled by matmul's broadcasting.
Labeled contract_pair(Labeled x, Labeled y, const std::set<int>& keep, bool use_matmul, StreamOrDevice s) {
  // A contracted label of size 1 on one side only: drop it there (it becomes a sum on the
  // other side).
  for (int l : std::vector<int>(x.labels)) {
    int i = axis_of(x, l), j = axis_of(y, l);
    if (j < 0 || keep.count(l)) continue;
    if (x.a.shape(i) != y.a.shape(j)) {
      if (x.a.shape(i) == 1) {
        x.a = squeeze(x.a, i, s);
        x.labels.erase(x.labels.begin() + i);
      } else {
        y.a = squeeze(y.a, j, s);
        y.labels.erase(y.labels.begin() + j);
      }
    }
  }
  // Labels only on one side and not kept: sum them now.
  std::set<int> only_x, only_y;
  for (int l : x.labels)
    if (!keep.count(l) && axis_of(y, l) < 0) only_x.insert(l);
  for (int l : y.labels)
    if (!keep.count(l) && axis_of(x, l) < 0) only_y.insert(l);
  x = sum_labels(x, only_x, s);
  y = sum_labels(y, only_y, s);

  std::vector<int> batch, free_x, free_y, con;
  for (int l : x.labels) {
    if (axis_of(y, l) >= 0) (keep.count(l) ? batch : con).push_back(l);
    else free_x.push_back(l);
  }
  for (int l : y.labels)
    if (axis_of(x, l) < 0) free_y.push_back(l);

  auto perm = [](const Labeled& z, const std::vector<std::vector<int>>& groups) {
    std::vector<int> p;
    for (auto& g : groups)
      for (int l : g) p.push_back(axis_of(z, l));
    return p;
  };
  auto size_of_labels = [](const Labeled& z, const std::vector<int>& ls) {
    int64_t n = 1;
    for (int l : ls) n *= z.a.shape(axis_of(z, l));
    return n;
  };

  std::vector<int> out_labels = batch;
  out_labels.insert(out_labels.end(), free_x.begin(), free_x.end());
  out_labels.insert(out_labels.end(), free_y.begin(), free_y.end());

  if (!use_matmul) {
    // Integer (and other non-floating) operands: broadcast multiply, then sum.
    std::vector<int> all = out_labels;
    all.insert(all.end(), con.begin(), con.end());
    auto expand = [&](const Labeled& z) {
      std::vector<int> p;
      Shape sh;
      for (int l : all) {
        int k = axis_of(z, l);
        if (k >= 0) p.push_back(k);
        sh.push_back(k >= 0 ? z.a.shape(k) : 1);
      }
      return reshape(transpose(z.a, p, s), sh, s);
    };
    array prod = multiply(expand(x), expand(y), s);
    std::vector<int> axes;
    for (size_t k = out_labels.size(); k < all.size(); ++k) axes.push_back(int(k));
    if (!axes.empty()) prod = sum(prod, axes, false, s);
    return {prod, out_labels};
  }

  int64_t m = size_of_labels(x, free_x), n = size_of_labels(y, free_y), k = size_of_labels(x, con);
  Shape sx, sy, so;
  for (int l : batch) {
    sx.push_back(x.a.shape(axis_of(x, l)));
    sy.push_back(y.a.shape(axis_of(y, l)));
  }
  so = broadcast_shapes(sx, sy, "einsum");
  sx.push_back(int(m));
  sx.push_back(int(k));
  sy.push_back(int(k));
  sy.push_back(int(n));
  array ax = reshape(transpose(x.a, perm(x, {batch, free_x, con}), s), sx, s);
  array ay = reshape(transpose(y.a, perm(y, {batch, con, free_y}), s), sy, s);
  array r = matmul(ax, ay, s);
  for (int l : free_x) so.push_back(x.a.shape(axis_of(x, l)));
  for (int l : free_y) so.push_back(y.a.shape(axis_of(y, l)));
  return {reshape(r, so, s), out_labels};
}

}  // namespace

array einsum(const std::string& subscripts_in, const std::vector<array>& operands, StreamOrDevice s) {
  if (operands.empty()) fail("At least one operand is required.");
  std::string subs;
  for (char c : subscripts_in)
    if (c != ' ') subs.push_back(c);

  // Split into input terms and the optional output term.
  std::string lhs = subs, rhs;
  bool explicit_out = false;
  size_t arrow = subs.find("->");
  if (arrow != std::string::npos) {
    if (subs.find("->", arrow + 2) != std::string::npos) fail("Subscript string '" + subs + "' has more than one '->'.");
    lhs = subs.substr(0, arrow);
    rhs = subs.substr(arrow + 2);
    explicit_out = true;
  }
  if (lhs.find('-') != std::string::npos || lhs.find('>') != std::string::npos || rhs.find('-') != std::string::npos ||
      rhs.find('>') != std::string::npos) {
    fail("Invalid subscript string '" + subs + "': '-' and '>' may only appear together as '->'.");
  }
  std::vector<std::string> terms;
  {
    size_t start = 0;
    for (;;) {
      size_t comma = lhs.find(',', start);
      terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (rhs.find(',') != std::string::npos) fail("The output subscripts in '" + subs + "' may not contain ','.");
  if (terms.size() != operands.size()) {
    fail("Subscript string '" + subs + "' has " + std::to_string(terms.size()) + " input term(s) but " +
         std::to_string(operands.size()) + " operand(s) were given.");
  }

  // Label every axis of every operand; "..." dims are aligned from the right.
  std::vector<Labeled> ops;
  int n_ell = 0;
  std::vector<Term> parsed;
  for (size_t i = 0; i < terms.size(); ++i) {
    Term t = parse_term(terms[i], subs);
    int nd = int(operands[i].ndim()), nl = int(t.letters.size());
    if (t.ellipsis_at < 0 && nl != nd) {
      fail("Operand " + std::to_string(i) + " has " + std::to_string(nd) + " dimension(s) but its subscripts '" +
           terms[i] + "' name " + std::to_string(nl) + ".");
    }
    if (nl > nd) {
      fail("Operand " + std::to_string(i) + " has " + std::to_string(nd) + " dimension(s), fewer than the " +
           std::to_string(nl) + " labels of '" + terms[i] + "'.");
    }
    if (t.ellipsis_at >= 0) n_ell = std::max(n_ell, nd - nl);
    parsed.push_back(t);
  }
  for (size_t i = 0; i < terms.size(); ++i) {
    const Term& t = parsed[i];
    int nd = int(operands[i].ndim()), ne = nd - int(t.letters.size());
    std::vector<int> labels;
    for (int p = 0; p < int(t.letters.size()); ++p) {
      if (p == t.ellipsis_at)
        for (int e = 0; e < ne; ++e) labels.push_back(kEllipsisBase + n_ell - ne + e);
      labels.push_back(t.letters[p]);
    }
    if (t.ellipsis_at == int(t.letters.size()))
      for (int e = 0; e < ne; ++e) labels.push_back(kEllipsisBase + n_ell - ne + e);
    ops.push_back({operands[i], labels});
  }

  // Each label's size: equal everywhere, or 1 (broadcast).
  std::map<int, int64_t> size;
  std::map<int, int> count;
  for (size_t i = 0; i < ops.size(); ++i) {
    for (int p = 0; p < int(ops[i].labels.size()); ++p) {
      int l = ops[i].labels[p];
      int64_t d = ops[i].a.shape(p);
      ++count[l];
      auto it = size.find(l);
      if (it == size.end() || it->second == 1) {
        size[l] = d;
      } else if (d != 1 && d != it->second) {
        fail("Size of label " + label_str(l) + " does not match: " + std::to_string(it->second) + " vs " +
             std::to_string(d) + " (operand " + std::to_string(i) + ").");
      }
    }
  }

  // Output labels.
  std::vector<int> out;
  if (explicit_out) {
    Term t = parse_term(rhs, subs);
    for (int p = 0; p <= int(t.letters.size()); ++p) {
      if (p == t.ellipsis_at)
        for (int e = 0; e < n_ell; ++e) out.push_back(kEllipsisBase + e);
      if (p < int(t.letters.size())) {
        int l = t.letters[p];
        if (!size.count(l)) fail("Output label " + label_str(l) + " does not appear in the inputs of '" + subs + "'.");
        if (std::find(out.begin(), out.end(), l) != out.end())
          fail("Output label " + label_str(l) + " appears more than once in '" + subs + "'.");
        out.push_back(l);
      }
    }
    if (t.ellipsis_at < 0 && n_ell > 0) {
      fail("The inputs of '" + subs + "' broadcast " + std::to_string(n_ell) +
           " dimension(s) through '...' but the output has no '...'.");
    }
  } else {
    for (int e = 0; e < n_ell; ++e) out.push_back(kEllipsisBase + e);
    for (auto& [l, c] : count)
      if (l < kEllipsisBase && c == 1) out.push_back(l);
  }

  Dtype d = operands[0].dtype();
  for (auto& o : operands) d = promote_types(d, o.dtype());
  bool use_matmul = issubdtype(d, floating);
  for (auto& o : ops) o.a = astype(o.a, d, s);

  std::set<int> out_set(out.begin(), out.end());
  auto needed_elsewhere = [&](size_t skip_a, size_t skip_b) {
    std::set<int> k = out_set;
    for (size_t i = 0; i < ops.size(); ++i)
      if (i != skip_a && i != skip_b) k.insert(ops[i].labels.begin(), ops[i].labels.end());
    return k;
  };

  // Per operand: diagonals of repeated labels, then sums over labels nothing else uses.
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i] = take_diagonals(ops[i], s);
    std::set<int> keep = needed_elsewhere(i, i), drop;
    for (int l : ops[i].labels)
      if (!keep.count(l)) drop.insert(l);
    ops[i] = sum_labels(ops[i], drop, s);
  }

  // Pairwise contraction, smallest result first.
  while (ops.size() > 1) {
    size_t bi = 0, bj = 1;
    double best = -1;
    for (size_t i = 0; i < ops.size(); ++i) {
      for (size_t j = i + 1; j < ops.size(); ++j) {
        std::set<int> keep = needed_elsewhere(i, j);
        std::set<int> ls(ops[i].labels.begin(), ops[i].labels.end());
        ls.insert(ops[j].labels.begin(), ops[j].labels.end());
        double n = 1;
        for (int l : ls)
          if (keep.count(l)) n *= double(size[l]);
        if (best < 0 || n < best) {
          best = n;
          bi = i;
          bj = j;
        }
      }
    }
    std::set<int> keep = needed_elsewhere(bi, bj);
    Labeled r = contract_pair(ops[bi], ops[bj], keep, use_matmul, s);
    ops.erase(ops.begin() + bj);
    ops.erase(ops.begin() + bi);
    ops.push_back(r);
  }

  Labeled r = ops[0];
  std::set<int> drop;
  for (int l : r.labels)
    if (!out_set.count(l)) drop.insert(l);
  r = sum_labels(r, drop, s);
  std::vector<int> p;
  Shape final_shape;
  for (int l : out) {
    int k = axis_of(r, l);
    p.push_back(k);
    final_shape.push_back(int(size[l]));
  }
  array res = transpose(r.a, p, s);
  if (res.shape() != final_shape) res = broadcast_to(res, final_shape, s);
  return res;
}

}  // namespace tessera
