// Runs every case of tests/reference/cases_*.py on the CPU backend and on the reference backend
// and compares with NumPy's results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/backend.h"
#include "core/eval_stats.h"
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

struct Fixtures {
  std::string dir;
  Json manifest;
  std::string skip_reason;
  ~Fixtures() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

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

void run_all(Device device) {
  const auto& fx = fixtures();
  if (!fx.skip_reason.empty()) GTEST_SKIP() << fx.skip_reason;
  auto& reg = op_registry();
  int run = 0;
  std::vector<std::string> missing;
  for (auto& c : fx.manifest) {
    std::string name = c["name"], op = c["op"];
    auto it = reg.find(op);
    if (it == reg.end()) {
      missing.push_back(op);
      continue;
    }
    SCOPED_TRACE("case " + name + " (op " + op + ") on " + (device == Device::cpu ? "cpu" : "reference"));
    StreamContext ctx(device);
    std::vector<array> inputs;
    for (auto& rec : c["inputs"]) inputs.push_back(apply_view(read_array(fx.dir, rec), rec));
    eval(inputs);
    ++run;
    if (!c["error"].is_null()) {
      std::string kind = c["error"];
      bool threw = false;
      try {
        auto outs = it->second(inputs, c["params"]);
        eval(outs);
      } catch (const std::out_of_range& e) {
        threw = true;
        EXPECT_EQ(kind, "out_of_range") << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("[", 0), 0u) << "error message should start with [op]: " << e.what();
      } catch (const std::invalid_argument& e) {
        threw = true;
        EXPECT_EQ(kind, "invalid_argument") << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("[", 0), 0u) << "error message should start with [op]: " << e.what();
      }
      EXPECT_TRUE(threw) << "expected " << kind;
      continue;
    }
    std::vector<array> outs;
    try {
      outs = it->second(inputs, c["params"]);
      eval(outs);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw: " << e.what();
      continue;
    }
    if (outs.size() != c["expected"].size()) {
      ADD_FAILURE() << "returned " << outs.size() << " outputs, expected " << c["expected"].size();
      continue;
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      if (c.contains("dtype")) {
        EXPECT_EQ(dtype_name(outs[k].dtype()), c["dtype"][k].get<std::string>()) << "output " << k;
      }
      array want = read_array(fx.dir, c["expected"][k]);
      std::string diff = compare(outs[k], want, c["rtol"].get<double>(), c["atol"].get<double>());
      EXPECT_TRUE(diff.empty()) << "output " << k << ":\n" << diff;
    }
  }
  EXPECT_GT(run, 0);
  // Every kernel this backend registers must have run on some case (the registry drives the
  // coverage: a new kernel without NumPy cases fails here). Kinds tested elsewhere are listed.
  const std::map<PrimitiveKind, const char*> tested_elsewhere = {
      {PrimitiveKind::RandomBits, "tests/random_test.cpp"},
      {PrimitiveKind::Compiled, "no kernel yet"},
      {PrimitiveKind::Custom, "no kernel yet"},
      {PrimitiveKind::Depends, "no kernel yet"},
  };
  Backend& backend = backend_for(device);
  for (int k = 0; k < num_primitive_kinds; ++k) {
    auto kind = static_cast<PrimitiveKind>(k);
    if (!backend.kernel(kind) || tested_elsewhere.count(kind)) continue;
    EXPECT_GT(kernel_run_count(device.type, kind), 0u)
        << "kernel for " << primitive_kind_name(kind) << " on " << backend.name() << " never ran in the NumPy cases";
  }
  if (!missing.empty()) {
    std::string list;
    for (auto& m : missing) list += m + " ";
    ADD_FAILURE() << "cases name ops with no entry in the test op registry: " << list;
  }
}

TEST(NumpyReference, CpuBackend) { run_all(Device::cpu); }
TEST(NumpyReference, ReferenceBackend) { run_all(Device::reference); }

}  // namespace
}  // namespace tessera::testing
