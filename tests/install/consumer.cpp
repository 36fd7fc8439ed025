// A program built against an installed Tessera, as a user would build one.
#include <cstdio>

#include "tessera/tessera.h"

int main() {
  namespace mx = tessera;
  mx::array a = mx::reshape(mx::arange(6.0), {2, 3});
  mx::array b = mx::matmul(a, mx::transpose(a));
  float total = mx::sum(b).item<float>();
  // [[0,1,2],[3,4,5]] @ its transpose = [[5,14],[14,50]]
  if (total != 83.0f) {
    std::printf("wrong result %f\n", total);
    return 1;
  }
  std::printf("consumer ok: %f\n", total);
  return 0;
}
