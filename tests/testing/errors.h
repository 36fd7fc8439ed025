// Error-message checks: tests call the failing code and look for the parts the message must name
// (the op or file, the shape, the offset).
#pragma once

#include <exception>
#include <string>

namespace tessera::testing {

// The message of the std::exception `fn` throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace tessera::testing
