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
#include "testing/fixtures.h"
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

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
      {PrimitiveKind::Compiled, "tests/compile_test.cpp"},
      {PrimitiveKind::ScaledDotProductAttentionVjp, "tests/torch_grads_test.cpp (against PyTorch's gradients)"},
      {PrimitiveKind::RMSNormVjp, "tests/torch_grads_test.cpp (against PyTorch's gradients)"},
      {PrimitiveKind::AttentionWeights, "tests/torch_grads_test.cpp (attention's composite gradient)"},
      {PrimitiveKind::AttentionWeightsVjp, "tests/torch_grads_test.cpp (attention's composite gradient)"},
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
