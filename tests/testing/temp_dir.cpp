#include "testing/temp_dir.h"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>

namespace tessera::testing {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string p = file(name);
  std::ofstream f(p, std::ios::binary);
  f << text;
  if (!f.flush()) throw std::runtime_error("could not write " + p);
  return p;
}

}  // namespace tessera::testing
