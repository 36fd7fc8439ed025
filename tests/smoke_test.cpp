#include <gtest/gtest.h>

#include "tessera/tessera.h"

using namespace tessera;

TEST(Smoke, AddAndSum) {
  array a = arange(10.0);
  array b = ones({10});
  array c = sum(add(a, b));
  EXPECT_FLOAT_EQ(c.item<float>(), 55.0f);
}
