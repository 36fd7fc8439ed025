// Python's operators on template values: arithmetic, comparison, membership and slicing.
#pragma once

#include "lm/chat_template/ast.h"
#include "lm/chat_template/value.h"

namespace tessera::lm::chat_template {

class Interpreter;

// Integer arithmetic is checked: overflowing int64 is an error rather than a wrong answer.
Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b);
Value negate(const Value& v, bool minus);
bool compare_op(Interpreter& in, CmpOp op, const Value& a, const Value& b);
// `item in container`.
bool contains(Interpreter& in, const Value& container, const Value& item);
// container[start:stop:step] for lists, tuples and strings (by character); undefined or none
// bounds take Python's defaults.
Value slice(Interpreter& in, const Value& container, const Value& start, const Value& stop, const Value& step);
// container[index] with Python's negative indices; undefined when out of range.
Value index_sequence(Interpreter& in, const Value& container, int64_t index);

}  // namespace tessera::lm::chat_template
