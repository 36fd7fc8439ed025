// The parsed template: expressions and statements, each with the source offset errors point at.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lm/chat_template/source.h"
#include "lm/chat_template/value.h"

namespace tessera::lm::chat_template {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Literal,   // literal (None, bool, number or string)
  Name,      // name
  List,      // items
  Tuple,     // items
  Dict,      // items: key, value, key, value, ...
  Attr,      // a.name
  Item,      // a[b]
  Slice,     // a[items[0]:items[1]:items[2]], any of them null
  Call,      // a(args)
  Filter,    // a | name(args)
  Test,      // a is [not] name(args)
  Neg,       // -a
  Pos,       // +a
  Not,       // not a
  Binary,    // a op b
  Compare,   // a cmp[0] items[0] cmp[1] items[1] ... (chained as in Python)
  And,       // a and b
  Or,        // a or b
  Cond,      // a if b else c (c null: undefined)
};

enum class BinOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat };
enum class CmpOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
  Expr(ExprKind k, size_t p) : kind(k), pos(p) {}
  ExprKind kind;
  size_t pos;
  Value literal;
  std::string name;
  BinOp op = BinOp::Add;
  bool negated = false;
  std::vector<CmpOp> cmp;
  std::vector<ExprPtr> items;
  ExprPtr a, b, c;
  Arguments args;
  // Longest path to a leaf, bounded by the parser so walking the tree cannot exhaust the stack.
  size_t height = 1;
};

// What a for loop or set assigns to.
struct Target {
  enum class Kind { Name, Tuple, Attr } kind = Kind::Name;
  size_t pos = 0;
  std::string name;             // Name, and the object's name for Attr
  std::string attr;             // Attr: ns.attr
  std::vector<Target> items;    // Tuple
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct FilterCall {
  size_t pos;
  std::string name;
  Arguments args;
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null: required
};

enum class NodeKind {
  Text,         // text
  Output,       // {{ expr }}
  If,           // branches (a null condition is the else branch)
  For,          // for target in expr [if condition] body [else else_body]
  Set,          // set target = expr
  SetBlock,     // set target [| filters] body endset
  Macro,        // macro name(params) body
  CallBlock,    // call(params) expr body: expr is the call, body is caller()
  FilterBlock,  // filter filters body
  With,         // with assignments body
  Break,
  Continue,
  Do,           // do expr
  Block,        // a body rendered in place (generation, autoescape)
};

struct Node {
  Node(NodeKind k, size_t p) : kind(k), pos(p) {}
  NodeKind kind;
  size_t pos;
  std::string text;
  std::string name;
  ExprPtr expr;
  ExprPtr condition;
  Target target;
  Body body, else_body;
  std::vector<std::pair<ExprPtr, Body>> branches;
  std::vector<Param> params;
  std::vector<FilterCall> filters;
  std::vector<std::pair<Target, ExprPtr>> assignments;
};

// A parsed template.
struct Program {
  Program(std::string name, std::string_view raw) : source(std::move(name), raw) {}
  Source source;
  Body body;
};

}  // namespace tessera::lm::chat_template
