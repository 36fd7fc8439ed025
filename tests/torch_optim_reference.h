// PyTorch references shared by losses_test.cpp and optimizers_test.cpp: one run of
// tests/reference/torch_optim.py (Debian's python3-torch) per test binary, on first use.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "tessera/tessera.h"

namespace tessera::testing_torch_optim {

struct TorchOptimReference {
  std::string skip_reason;
  std::unordered_map<std::string, array> losses, optim;

  TorchOptimReference() {
    if (std::system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0) {
      skip_reason = "PyTorch (Debian's python3-torch at /usr/bin/python3) is not installed";
      return;
    }
    char tmpl[] = "/tmp/tessera-torch-optim-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    std::string cmd = std::string("/usr/bin/python3 ") + TESSERA_SOURCE_DIR + "/tests/reference/torch_optim.py " + dir;
    int rc = std::system(cmd.c_str());
    if (rc == 0) {
      losses = loadz(dir + "/losses.npz");
      optim = loadz(dir + "/optim.npz");
      for (auto* m : {&losses, &optim}) {
        for (auto& [k, v] : *m) v.eval();  // the files go away below
      }
    }
    std::filesystem::remove_all(dir);
    if (rc != 0) throw std::runtime_error("torch_optim.py failed");
  }

  const array& loss(const std::string& key) const { return losses.at(key); }
};

inline const TorchOptimReference& torch_optim_reference() {
  static TorchOptimReference r;
  return r;
}

}  // namespace tessera::testing_torch_optim
