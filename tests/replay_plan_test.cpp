// ReplayPlan (src/transforms/replay_plan.h): a graph recorded once and run on new inputs must give what
// building and evaluating the same graph for those inputs gives, fold only small input-free work,
// release each value after its last use (so a buffer handed over alone is updated in place and
// one still held elsewhere is not), run multi-output primitives, and reject inputs of another
// layout with a clear error.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "transforms/replay_plan.h"
#include "tessera/tessera.h"

using namespace tessera;
using detail::ReplayPlan;

namespace {

// The graph the plan records: exp(x) * y + a table computed from constants, a small and a large
// input-free subgraph, and an in-place style update of a buffer at a position given as data.
struct Graph {
  std::vector<array> outputs;
};

Graph build(const array& x, const array& y, const array& buf, const array& pos) {
  array table = multiply(arange(0, 8, float32), array(0.5f));          // small: folded at recording
  array big = sum(add(ones({1 << 21}, float32), array(1.0f)), 0, true);  // 8 MiB intermediate: redone
  array a = add(multiply(exp(x), y), table);
  array b = add(a, big);
  array updated = scatter(buf, {pos}, reshape(a, {1, 8}), std::vector<int>{0});
  return {{b, updated, divmod(x, array(0.75f))[1]}};
}

array floats(std::vector<float> v, Shape s) { return array(v.begin(), std::move(s), float32); }

}  // namespace

TEST(ReplayPlan, RunsEqualBuildingTheGraphAgain) {
  array x = floats({0, 1, 2, 3, -1, -2, 0.5f, 4}, {8});
  array y = floats({1, 2, 3, 4, 5, 6, 7, 8}, {8});
  array buf = zeros({4, 8}, float32);
  array pos = array(1, int32);
  Graph g = build(x, y, buf, pos);
  ReplayPlan plan({x, y, buf, pos}, g.outputs);
  // The table and the arange it comes from are folded into a constant; the 8 MiB intermediate
  // (and the sum over it) are redone each run.
  EXPECT_LE(plan.num_steps(), 13u);
  EXPECT_GE(plan.num_steps(), 8u);

  for (int run = 0; run < 3; ++run) {
    array x2 = multiply(random::normal({8}, float32, random::key(uint64_t(run))), array(2.0f));
    array y2 = random::uniform({8}, float32, random::key(uint64_t(run + 10)));
    array b2 = random::normal({4, 8}, float32, random::key(uint64_t(run + 20)));
    array p2 = array(run, int32);
    eval({x2, y2, b2, p2});
    std::vector<array> want = build(x2, y2, b2, p2).outputs;
    eval(want);
    std::vector<array> got = plan.run({x2, y2, b2, p2});
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].shape(), want[i].shape());
      EXPECT_TRUE(array_equal(got[i], want[i]).item<bool>()) << "run " << run << ", output " << i;
    }
    // b2 was still held here: the plan copied it rather than writing into it.
    EXPECT_TRUE(array_equal(b2, random::normal({4, 8}, float32, random::key(uint64_t(run + 20)))).item<bool>());
  }
}

TEST(ReplayPlan, ABufferHandedOverAloneIsUpdatedInPlace) {
  array buf = zeros({16, 4}, float32);
  array row = zeros({1, 4}, float32);
  array pos = array(0, int32);
  eval({buf, row, pos});
  ReplayPlan plan({buf, row, pos}, {scatter(buf, {pos}, row, std::vector<int>{0})});
  array state = zeros({16, 4}, float32);
  state.eval();
  const void* storage = state.raw_data();
  for (int p = 0; p < 16; ++p) {
    array r = full({1, 4}, float(p + 1));
    std::vector<array> in;
    in.push_back(std::move(state));
    in.push_back(r);
    in.push_back(array(p, int32));
    state = plan.run(std::move(in))[0];
    EXPECT_EQ(state.raw_data(), storage) << "position " << p << " copied the buffer";
  }
  std::vector<float> want;
  for (int p = 0; p < 16; ++p) want.insert(want.end(), 4, float(p + 1));
  EXPECT_TRUE(array_equal(state, floats(want, {16, 4})).item<bool>());
}

TEST(ReplayPlan, OutputsMayBeInputsOrConstants) {
  array x = ones({3}, float32);
  x.eval();
  array c = arange(0, 3, float32);
  ReplayPlan plan({x}, {x, c, add(x, c)});
  EXPECT_EQ(plan.num_steps(), 1u);
  array x2 = full({3}, 5.0f);
  auto out = plan.run({x2});
  EXPECT_TRUE(array_equal(out[0], x2).item<bool>());
  EXPECT_TRUE(array_equal(out[1], arange(0, 3, float32)).item<bool>());
  EXPECT_TRUE(array_equal(out[2], floats({5, 6, 7}, {3})).item<bool>());
}

TEST(ReplayPlan, InputsOfAnotherLayoutAreRejected) {
  array x = ones({2, 3}, float32);
  ReplayPlan plan({x}, {exp(x)});
  auto message = [&](std::vector<array> in) {
    try {
      plan.run(std::move(in));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({ones({3, 2}, float32)}).find("input 0 was recorded as [2, 3] float32, run with [3, 2]"),
            std::string::npos)
      << message({ones({3, 2}, float32)});
  EXPECT_NE(message({ones({2, 3}, float16)}).find("float16"), std::string::npos);
  EXPECT_NE(message({}).find("recorded with 1 inputs, run with 0"), std::string::npos);
  EXPECT_THROW(ReplayPlan({x, x}, {exp(x)}), std::invalid_argument);
}
