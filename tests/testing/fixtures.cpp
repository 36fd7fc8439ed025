#include "testing/fixtures.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::testing {

Fixtures::~Fixtures() {
  if (!dir.empty()) std::filesystem::remove_all(dir);
}

const Fixtures& fixtures() {
  static Fixtures f = [] {
    Fixtures fx;
    const char* py = "/usr/bin/python3";
    if (std::system((std::string(py) + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
      fx.skip_reason = "NumPy (Debian's python3-numpy at /usr/bin/python3) is not installed";
      return fx;
    }
    char tmpl[] = "/tmp/tessera-fixtures-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    if (!dir) {
      fx.skip_reason = "cannot create a temporary directory";
      return fx;
    }
    fx.dir = dir;
    std::string cmd = std::string(py) + " " + TESSERA_SOURCE_DIR + "/tests/reference/make_fixtures.py " + fx.dir +
                      " > " + fx.dir + "/log.txt 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream log(fx.dir + "/log.txt");
      std::stringstream ss;
      ss << log.rdbuf();
      throw std::runtime_error("make_fixtures.py failed:\n" + ss.str());
    }
    std::ifstream in(fx.dir + "/manifest.json");
    fx.manifest = Json::parse(in);
    return fx;
  }();
  return f;
}

array read_array(const std::string& dir, const Json& rec) {
  Dtype d = dtype_from_name(rec["dtype"].get<std::string>());
  Shape shape = shape_of(rec["shape"]);
  size_t n = 1;
  for (auto s : shape) n *= size_t(s);
  std::vector<char> bytes(n * size_of(d));
  std::ifstream f(dir + "/" + rec["file"].get<std::string>(), std::ios::binary);
  f.read(bytes.data(), std::streamsize(bytes.size()));
  auto buf = allocator::malloc(bytes.size());
  if (!bytes.empty()) std::memcpy(buf.raw_ptr(), bytes.data(), bytes.size());
  return array(buf, shape, d);
}

array apply_view(array a, const Json& rec) {
  if (!rec["view"].is_null()) {
    std::string v = rec["view"];
    if (v == "T") {
      a = transpose(a);
    } else if (v == "step2") {
      Shape start(a.ndim(), 0), stop = a.shape(), strides(a.ndim(), 1);
      strides.back() = 2;
      a = slice(a, start, stop, strides);
    }
  }
  if (!rec["cast"].is_null()) a = astype(a, dtype_from_name(rec["cast"].get<std::string>()));
  return a;
}

// Compares within rtol/atol, treating NaNs in the same places as equal and requiring
// infinities to match exactly.
std::string compare(const array& got_in, const array& want, double rtol, double atol) {
  std::ostringstream err;
  if (got_in.shape() != want.shape()) {
    err << "shape " << got_in.shape() << " != expected " << want.shape();
    return err.str();
  }
  bool cplx = got_in.dtype() == complex64 || want.dtype() == complex64;
  array g = astype(got_in, cplx ? complex64 : float64);
  array w = astype(want, cplx ? complex64 : float64);
  g = contiguous(g);
  w = contiguous(w);
  eval(g, w);
  size_t n = g.size();
  int reported = 0;
  auto check = [&](size_t i, double gv, double wv) {
    bool ok;
    if (std::isnan(wv)) ok = std::isnan(gv);
    else if (std::isinf(wv)) ok = gv == wv;
    else ok = std::fabs(gv - wv) <= atol + rtol * std::fabs(wv);
    if (!ok && reported++ < 5) err << "  [" << i << "] got " << gv << " expected " << wv << "\n";
  };
  for (size_t i = 0; i < n; ++i) {
    if (cplx) {
      auto gv = g.data<complex64_t>()[i], wv = w.data<complex64_t>()[i];
      check(i, gv.real(), wv.real());
      check(i, gv.imag(), wv.imag());
    } else {
      check(i, g.data<double>()[i], w.data<double>()[i]);
    }
  }
  if (reported) err << "  (" << reported << " mismatches)";
  return err.str();
}

}  // namespace tessera::testing
