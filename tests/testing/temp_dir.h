// A fresh directory under the system's temporary directory (made with mkdtemp, so parallel test
// runs never share one), removed with everything in it when the object goes.
#pragma once

#include <filesystem>
#include <string>

namespace tessera::testing {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "tessera-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path.string(); }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
  // The path of `name` inside, as a string.
  std::string file(const std::string& name) const { return (path / name).string(); }
  // Writes `text` to `name` inside and returns its path.
  std::string write(const std::string& name, const std::string& text) const;
};

}  // namespace tessera::testing
