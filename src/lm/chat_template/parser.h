// Recursive-descent parser for the Jinja2 statement and expression grammar (operator precedence
// as in Jinja: conditional < or < and < not < comparisons < + - < ~ < * / // % < ** < unary,
// with filters and `is` tests binding to the unary operand, so `a + b | trim` trims b only).
#pragma once

#include <cstddef>

#include "lm/chat_template/ast.h"

namespace tessera::lm::chat_template {

// Fills program.body from program.source. Throws TemplateError (syntax) with the offending
// position; nesting (blocks, brackets, operator chains) deeper than max_depth is an error, which
// bounds the recursion of everything that later walks the tree.
void parse(Program& program, size_t max_depth);

}  // namespace tessera::lm::chat_template
