// The NumPy reference cases (tests/reference/cases_*.py), generated once per test run into a
// temporary directory, and helpers to read and compare their arrays.
#pragma once

#include <string>

#include "testing/op_registry.h"

namespace tessera::testing {

struct Fixtures {
  std::string dir;
  Json manifest;
  std::string skip_reason;  // non-empty where NumPy is missing
  ~Fixtures();
};

const Fixtures& fixtures();

// Reads an input or expected array of a case.
array read_array(const std::string& dir, const Json& rec);
// Applies a case input's "view" ("T" or "step2") and "cast".
array apply_view(array a, const Json& rec);
// Empty when equal within rtol/atol (NaNs in the same places, infinities exactly); else a report.
std::string compare(const array& got, const array& want, double rtol, double atol);

}  // namespace tessera::testing
