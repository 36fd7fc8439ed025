#include "lm/chat_template/parser.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "lm/chat_template/lexer.h"

namespace tessera::lm::chat_template {

namespace {

// Names that end an `is` test's bare argument and cannot be variables in that position.
bool is_test_stop_word(const std::string& s) { return s == "else" || s == "or" || s == "and"; }

class Parser {
 public:
  Parser(const Source& source, std::vector<Token> tokens, size_t max_depth)
      : source_(source), toks_(std::move(tokens)), max_depth_(max_depth) {}

  Body parse_template() {
    std::string which;
    Body body = parse_body({}, which, 0, "");
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(i_ + n, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool at_op(std::string_view op) const { return cur().kind == Tok::Op && cur().text == op; }
  bool at_name(std::string_view name) const { return cur().kind == Tok::Name && cur().text == name; }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    advance();
    return true;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::Name: return "'" + t.text + "'";
      case Tok::Op: return "'" + t.text + "'";
      case Tok::String: return "a string";
      case Tok::Int:
      case Tok::Float: return "the number " + t.text;
      default: return token_kind_name(t.kind);
    }
  }

  [[noreturn]] void fail_expected(const std::string& what) {
    throw_syntax(cur().pos, "expected " + what + ", got " + describe(cur()));
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_expected("'" + std::string(op) + "'");
  }
  void expect_name(std::string_view name) {
    if (!skip_name(name)) fail_expected("'" + std::string(name) + "'");
  }
  void expect_block_end() {
    if (cur().kind != Tok::BlockEnd) fail_expected("'%}'");
    advance();
  }
  std::string expect_identifier(const char* what) {
    if (cur().kind != Tok::Name) fail_expected(what);
    std::string s = cur().text;
    advance();
    return s;
  }

  // ---- depth accounting ----
  struct DepthGuard {
    DepthGuard(Parser& p, size_t pos) : p(p) {
      if (++p.depth_ > p.max_depth_)
        throw_syntax(pos, "template nested too deeply (more than " + std::to_string(p.max_depth_) + " levels)");
    }
    ~DepthGuard() { --p.depth_; }
    Parser& p;
  };

  // Every finished expression knows its height; chains built by loops (a + b + c ..., a.b.c ...)
  // count too, so the tree's height stays within the limit.
  ExprPtr finish(ExprPtr e) {
    size_t h = 0;
    auto see = [&](const ExprPtr& c) {
      if (c) h = std::max(h, c->height);
    };
    see(e->a);
    see(e->b);
    see(e->c);
    for (auto& x : e->items) see(x);
    for (auto& x : e->args.positional) see(x);
    for (auto& kv : e->args.keyword) see(kv.second);
    if (h + 1 > max_depth_)
      throw_syntax(e->pos, "expression nested too deeply (more than " + std::to_string(max_depth_) + " levels)");
    e->height = h + 1;
    return e;
  }
  ExprPtr node(ExprKind kind, size_t pos) { return std::make_unique<Expr>(kind, pos); }

  // ---- statements ----

  // Parses nodes until `{% name` for a name in `ends` (consumed up to the name; `which` gets
  // it), or the end of the template when `ends` is empty.
  Body parse_body(std::initializer_list<std::string_view> ends, std::string& which, size_t opener_pos,
                  const std::string& opener) {
    Body body;
    for (;;) {
      const Token& t = cur();
      switch (t.kind) {
        case Tok::Text: {
          auto n = std::make_unique<Node>(NodeKind::Text, t.pos);
          n->text = t.text;
          body.push_back(std::move(n));
          advance();
          break;
        }
        case Tok::VarBegin: {
          auto n = std::make_unique<Node>(NodeKind::Output, t.pos);
          advance();
          n->expr = parse_tuple(true);
          if (cur().kind != Tok::VarEnd) fail_expected("'}}'");
          advance();
          body.push_back(std::move(n));
          break;
        }
        case Tok::BlockBegin: {
          const Token& name = peek();
          if (name.kind == Tok::Name &&
              std::find(ends.begin(), ends.end(), std::string_view(name.text)) != ends.end()) {
            which = name.text;
            advance();
            advance();
            return body;
          }
          body.push_back(parse_statement());
          break;
        }
        case Tok::End: {
          if (ends.size() == 0) return body;
          std::string names;
          for (std::string_view e : ends) names += (names.empty() ? "'" : " or '") + std::string(e) + "'";
          throw_syntax(t.pos, "unexpected end of template: expected " + names + " to close the '" + opener +
                                  "' at " + source_.where(opener_pos));
        }
        default: fail_expected("text or a tag");
      }
    }
  }

  NodePtr parse_statement() {
    size_t pos = cur().pos;
    DepthGuard guard(*this, pos);
    advance();  // {%
    if (cur().kind != Tok::Name) fail_expected("a statement name");
    std::string tag = cur().text;
    size_t tag_pos = cur().pos;
    advance();
    if (tag == "if") return parse_if(pos);
    if (tag == "for") return parse_for(pos);
    if (tag == "set") return parse_set(pos);
    if (tag == "macro") return parse_macro(pos);
    if (tag == "call") return parse_call_block(pos);
    if (tag == "filter") return parse_filter_block(pos);
    if (tag == "with") return parse_with(pos);
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) throw_syntax(tag_pos, "'" + tag + "' outside of a loop");
      expect_block_end();
      return std::make_unique<Node>(tag == "break" ? NodeKind::Break : NodeKind::Continue, pos);
    }
    if (tag == "do") {
      auto n = std::make_unique<Node>(NodeKind::Do, pos);
      n->expr = parse_tuple(true);
      expect_block_end();
      return n;
    }
    if (tag == "generation" || tag == "autoescape" || tag == "block") {
      // Rendered in place: transformers' {% generation %} marks assistant text for masks,
      // autoescape changes nothing without escaping, a lone template's blocks print where they stand.
      auto n = std::make_unique<Node>(NodeKind::Block, pos);
      if (tag == "autoescape") n->expr = parse_expression(true);
      if (tag == "block") n->name = expect_identifier("a block name");
      expect_block_end();
      std::string which;
      std::string end = "end" + tag;
      n->body = parse_body({end}, which, pos, tag);
      if (tag == "block" && cur().kind == Tok::Name) advance();
      expect_block_end();
      return n;
    }
    if (tag == "elif" || tag == "else" || tag.rfind("end", 0) == 0)
      throw_syntax(tag_pos, "unexpected '" + tag + "' (no open block here takes it)");
    if (tag == "include" || tag == "import" || tag == "from" || tag == "extends")
      throw_syntax(tag_pos, "'" + tag + "' is not supported: chat templates are rendered on their own");
    throw_syntax(tag_pos, "unknown tag '" + tag + "'");
  }

  NodePtr parse_if(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::If, pos);
    ExprPtr cond = parse_tuple(false);
    expect_block_end();
    for (;;) {
      std::string which;
      Body body = parse_body({"elif", "else", "endif"}, which, pos, "if");
      n->branches.emplace_back(std::move(cond), std::move(body));
      if (which == "elif") {
        cond = parse_tuple(false);
        expect_block_end();
        continue;
      }
      if (which == "else") {
        expect_block_end();
        Body else_body = parse_body({"endif"}, which, pos, "if");
        n->branches.emplace_back(nullptr, std::move(else_body));
      }
      expect_block_end();
      return n;
    }
  }

  NodePtr parse_for(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::For, pos);
    n->target = parse_assign_target(false);
    expect_name("in");
    n->expr = parse_tuple(false, "recursive");
    if (skip_name("if")) n->condition = parse_expression(true);
    if (at_name("recursive")) throw_syntax(cur().pos, "recursive loops are not supported");
    expect_block_end();
    std::string which;
    ++loop_depth_;
    n->body = parse_body({"endfor", "else"}, which, pos, "for");
    --loop_depth_;
    if (which == "else") {
      expect_block_end();
      n->else_body = parse_body({"endfor"}, which, pos, "for");
    }
    expect_block_end();
    return n;
  }

  NodePtr parse_set(size_t pos) {
    Target target = parse_assign_target(true);
    if (skip_op("=")) {
      auto n = std::make_unique<Node>(NodeKind::Set, pos);
      n->target = std::move(target);
      n->expr = parse_tuple(true);
      expect_block_end();
      return n;
    }
    if (target.kind == Target::Kind::Tuple) throw_syntax(target.pos, "a block set assigns to a single name");
    auto n = std::make_unique<Node>(NodeKind::SetBlock, pos);
    n->target = std::move(target);
    while (skip_op("|")) n->filters.push_back(parse_filter_call());
    expect_block_end();
    std::string which;
    n->body = parse_body({"endset"}, which, pos, "set");
    expect_block_end();
    return n;
  }

  // Parameters of a macro or call block: (a, b=default, ...).
  std::vector<Param> parse_params() {
    std::vector<Param> params;
    expect_op("(");
    while (!at_op(")")) {
      if (!params.empty()) expect_op(",");
      if (at_op(")")) break;
      Param p;
      p.name = expect_identifier("a parameter name");
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    advance();
    return params;
  }

  NodePtr parse_macro(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::Macro, pos);
    n->name = expect_identifier("a macro name");
    n->params = parse_params();
    expect_block_end();
    size_t saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string which;
    n->body = parse_body({"endmacro"}, which, pos, "macro");
    loop_depth_ = saved_loops;
    if (cur().kind == Tok::Name) advance();  // {% endmacro name %}
    expect_block_end();
    return n;
  }

  NodePtr parse_call_block(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::CallBlock, pos);
    if (at_op("(")) n->params = parse_params();
    n->expr = parse_expression(true);
    if (n->expr->kind != ExprKind::Call) throw_syntax(n->expr->pos, "'call' expects a macro call");
    expect_block_end();
    size_t saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string which;
    n->body = parse_body({"endcall"}, which, pos, "call");
    loop_depth_ = saved_loops;
    expect_block_end();
    return n;
  }

  NodePtr parse_filter_block(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::FilterBlock, pos);
    n->filters.push_back(parse_filter_call());
    while (skip_op("|")) n->filters.push_back(parse_filter_call());
    expect_block_end();
    std::string which;
    n->body = parse_body({"endfilter"}, which, pos, "filter");
    expect_block_end();
    return n;
  }

  NodePtr parse_with(size_t pos) {
    auto n = std::make_unique<Node>(NodeKind::With, pos);
    while (cur().kind != Tok::BlockEnd) {
      if (!n->assignments.empty()) expect_op(",");
      Target t = parse_assign_target(false);
      expect_op("=");
      n->assignments.emplace_back(std::move(t), parse_expression(true));
    }
    expect_block_end();
    std::string which;
    n->body = parse_body({"endwith"}, which, pos, "with");
    expect_block_end();
    return n;
  }

  // name | name.attr (set only) | a, b | (a, b)
  Target parse_assign_target(bool allow_attr) {
    Target t;
    t.pos = cur().pos;
    std::vector<Target> items;
    bool parenthesized = skip_op("(");
    for (;;) {
      Target one;
      one.pos = cur().pos;
      if (at_op("(")) {
        one = parse_assign_target(false);
      } else {
        one.name = expect_identifier("a variable name");
        if (one.name == "true" || one.name == "false" || one.name == "none" || one.name == "True" ||
            one.name == "False" || one.name == "None")
          throw_syntax(one.pos, "cannot assign to '" + one.name + "'");
        if (allow_attr && at_op(".")) {
          advance();
          one.kind = Target::Kind::Attr;
          one.attr = expect_identifier("an attribute name");
        }
      }
      items.push_back(std::move(one));
      if (!skip_op(",")) break;
      if (cur().kind != Tok::Name && !at_op("(")) break;
    }
    if (parenthesized) expect_op(")");
    if (items.size() == 1 && !parenthesized) return std::move(items[0]);
    if (items.size() == 1 && items[0].kind != Target::Kind::Tuple && parenthesized) return std::move(items[0]);
    for (const Target& x : items)
      if (x.kind == Target::Kind::Attr) throw_syntax(x.pos, "namespace attributes cannot be unpacked into");
    t.kind = Target::Kind::Tuple;
    t.items = std::move(items);
    return t;
  }

  FilterCall parse_filter_call() {
    FilterCall f;
    f.pos = cur().pos;
    f.name = expect_identifier("a filter name");
    while (at_op(".") && peek().kind == Tok::Name) {
      advance();
      f.name += "." + cur().text;
      advance();
    }
    if (at_op("(")) f.args = parse_call_args();
    return f;
  }

  // ---- expressions ----

  // Comma-separated expressions form a tuple (`{{ a, b }}`, `for x in a, b`). `stop_name` is a
  // name that ends the list without being an expression (for loops' `recursive`).
  ExprPtr parse_tuple(bool with_condexpr, std::string_view stop_name = {}) {
    size_t pos = cur().pos;
    std::vector<ExprPtr> items;
    bool trailing_comma = false;
    for (;;) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        trailing_comma = true;
        if (cur().kind == Tok::VarEnd || cur().kind == Tok::BlockEnd || at_op(")") || at_op("=") ||
            (!stop_name.empty() && at_name(stop_name)))
          break;
      }
      items.push_back(parse_expression(with_condexpr));
      trailing_comma = false;
    }
    if (items.size() == 1 && !trailing_comma) return std::move(items[0]);
    auto t = node(ExprKind::Tuple, pos);
    t->items = std::move(items);
    return finish(std::move(t));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this, cur().pos);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (at_name("if")) {
      size_t pos = cur().pos;
      advance();
      auto c = node(ExprKind::Cond, pos);
      c->b = parse_or();
      c->a = std::move(expr);
      if (skip_name("else")) c->c = parse_expression(true);
      expr = finish(std::move(c));
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      auto n = node(ExprKind::Or, cur().pos);
      advance();
      n->a = std::move(left);
      n->b = parse_and();
      left = finish(std::move(n));
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      auto n = node(ExprKind::And, cur().pos);
      advance();
      n->a = std::move(left);
      n->b = parse_not();
      left = finish(std::move(n));
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      DepthGuard guard(*this, cur().pos);
      auto n = node(ExprKind::Not, cur().pos);
      advance();
      n->a = parse_not();
      return finish(std::move(n));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    size_t pos = cur().pos;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    for (;;) {
      CmpOp op;
      if (at_op("==")) op = CmpOp::Eq;
      else if (at_op("!=")) op = CmpOp::Ne;
      else if (at_op("<")) op = CmpOp::Lt;
      else if (at_op("<=")) op = CmpOp::Le;
      else if (at_op(">")) op = CmpOp::Gt;
      else if (at_op(">=")) op = CmpOp::Ge;
      else if (at_name("in")) op = CmpOp::In;
      else if (at_name("not") && peek().kind == Tok::Name && peek().text == "in") {
        op = CmpOp::NotIn;
        advance();
      } else {
        break;
      }
      advance();
      if (!cmp) {
        cmp = node(ExprKind::Compare, pos);
        cmp->a = std::move(first);
      }
      cmp->cmp.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? finish(std::move(cmp)) : std::move(first);
  }

  ExprPtr binary(BinOp op, size_t pos, ExprPtr a, ExprPtr b) {
    auto n = node(ExprKind::Binary, pos);
    n->op = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return finish(std::move(n));
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      BinOp op = at_op("+") ? BinOp::Add : BinOp::Sub;
      size_t pos = cur().pos;
      advance();
      left = binary(op, pos, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
      size_t pos = cur().pos;
      advance();
      left = binary(BinOp::Concat, pos, std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    for (;;) {
      BinOp op;
      if (at_op("*")) op = BinOp::Mul;
      else if (at_op("/")) op = BinOp::Div;
      else if (at_op("//")) op = BinOp::FloorDiv;
      else if (at_op("%")) op = BinOp::Mod;
      else break;
      size_t pos = cur().pos;
      advance();
      left = binary(op, pos, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
      size_t pos = cur().pos;
      advance();
      left = binary(BinOp::Pow, pos, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur().pos);
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      e = node(at_op("-") ? ExprKind::Neg : ExprKind::Pos, cur().pos);
      advance();
      e->a = parse_unary(false);
      e = finish(std::move(e));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    size_t pos = t.pos;
    switch (t.kind) {
      case Tok::Name: {
        auto e = node(ExprKind::Literal, pos);
        if (t.text == "true" || t.text == "True") e->literal = Value(true);
        else if (t.text == "false" || t.text == "False") e->literal = Value(false);
        else if (t.text == "none" || t.text == "None") e->literal = Value::none();
        else {
          e->kind = ExprKind::Name;
          e->name = t.text;
        }
        advance();
        return finish(std::move(e));
      }
      case Tok::String: {
        // Adjacent literals join, as in Python.
        std::string s;
        while (cur().kind == Tok::String) {
          s += cur().text;
          advance();
        }
        auto e = node(ExprKind::Literal, pos);
        e->literal = Value(std::move(s));
        return finish(std::move(e));
      }
      case Tok::Int: {
        auto e = node(ExprKind::Literal, pos);
        e->literal = Value(t.int_value);
        advance();
        return finish(std::move(e));
      }
      case Tok::Float: {
        auto e = node(ExprKind::Literal, pos);
        e->literal = Value(t.float_value);
        advance();
        return finish(std::move(e));
      }
      case Tok::Op:
        if (t.text == "(") {
          advance();
          if (skip_op(")")) return finish(node(ExprKind::Tuple, pos));
          ExprPtr inner = parse_tuple(true);
          expect_op(")");
          return inner;
        }
        if (t.text == "[") {
          advance();
          auto e = node(ExprKind::List, pos);
          while (!at_op("]")) {
            if (!e->items.empty()) expect_op(",");
            if (at_op("]")) break;
            e->items.push_back(parse_expression(true));
          }
          advance();
          return finish(std::move(e));
        }
        if (t.text == "{") {
          advance();
          auto e = node(ExprKind::Dict, pos);
          while (!at_op("}")) {
            if (!e->items.empty()) expect_op(",");
            if (at_op("}")) break;
            e->items.push_back(parse_expression(true));
            expect_op(":");
            e->items.push_back(parse_expression(true));
          }
          advance();
          return finish(std::move(e));
        }
        break;
      default: break;
    }
    fail_expected("an expression");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (at_op(".")) {
        size_t pos = cur().pos;
        advance();
        if (cur().kind == Tok::Name) {
          auto a = node(ExprKind::Attr, pos);
          a->name = cur().text;
          a->a = std::move(e);
          advance();
          e = finish(std::move(a));
        } else if (cur().kind == Tok::Int) {
          // x.0 is x[0].
          auto a = node(ExprKind::Item, pos);
          auto idx = node(ExprKind::Literal, cur().pos);
          idx->literal = Value(cur().int_value);
          advance();
          a->a = std::move(e);
          a->b = finish(std::move(idx));
          e = finish(std::move(a));
        } else {
          fail_expected("an attribute name");
        }
      } else if (at_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (at_op("(")) {
        // Errors inside a call point at what is called.
        auto c = node(ExprKind::Call, e->pos);
        c->args = parse_call_args();
        c->a = std::move(e);
        e = finish(std::move(c));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    size_t pos = cur().pos;
    advance();  // [
    ExprPtr parts[3];
    int colons = 0;
    bool any = false;
    while (!at_op("]")) {
      if (at_op(":")) {
        if (++colons > 2) fail_expected("']'");
        advance();
        continue;
      }
      if (parts[colons]) fail_expected(colons ? "':' or ']'" : "':' or ']'");
      parts[colons] = colons == 0 ? parse_tuple(true) : parse_expression(true);
      any = true;
    }
    advance();  // ]
    if (colons == 0) {
      if (!any) throw_syntax(pos, "empty subscript");
      auto e = node(ExprKind::Item, pos);
      e->a = std::move(obj);
      e->b = std::move(parts[0]);
      return finish(std::move(e));
    }
    auto e = node(ExprKind::Slice, pos);
    e->a = std::move(obj);
    for (auto& p : parts) e->items.push_back(std::move(p));
    return finish(std::move(e));
  }

  Arguments parse_call_args() {
    Arguments args;
    expect_op("(");
    bool first = true;
    while (!at_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (at_op(")")) break;
      if (at_op("*") || at_op("**")) throw_syntax(cur().pos, "*args and **kwargs in calls are not supported");
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == "=") {
        std::string name = cur().text;
        advance();
        advance();
        args.keyword.emplace_back(std::move(name), parse_expression(true));
      } else {
        if (!args.keyword.empty()) throw_syntax(cur().pos, "positional argument after keyword argument");
        args.positional.push_back(parse_expression(true));
      }
    }
    advance();
    return args;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    for (;;) {
      if (at_op("|")) {
        advance();
        FilterCall f = parse_filter_call();
        auto n = node(ExprKind::Filter, f.pos);
        n->name = std::move(f.name);
        n->args = std::move(f.args);
        n->a = std::move(e);
        e = finish(std::move(n));
      } else if (at_name("is")) {
        size_t pos = cur().pos;
        advance();
        auto n = node(ExprKind::Test, pos);
        n->negated = skip_name("not");
        n->name = expect_identifier("a test name");
        while (at_op(".") && peek().kind == Tok::Name) {
          advance();
          n->name += "." + cur().text;
          advance();
        }
        if (at_op("(")) {
          n->args = parse_call_args();
        } else if ((cur().kind == Tok::Name && !is_test_stop_word(cur().text)) || cur().kind == Tok::String ||
                   cur().kind == Tok::Int || cur().kind == Tok::Float || at_op("[") || at_op("{")) {
          // `x is divisibleby 3`, `x is sameas false`: one bare argument.
          if (at_name("is")) throw_syntax(cur().pos, "tests cannot be chained with 'is'");
          DepthGuard guard(*this, cur().pos);
          n->args.positional.push_back(parse_postfix(parse_primary()));
        }
        n->a = std::move(e);
        e = finish(std::move(n));
      } else if (at_op("(")) {
        auto c = node(ExprKind::Call, cur().pos);
        c->args = parse_call_args();
        c->a = std::move(e);
        e = finish(std::move(c));
      } else {
        return e;
      }
    }
  }

  const Source& source_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  size_t max_depth_;
  size_t depth_ = 0;
  size_t loop_depth_ = 0;
};

}  // namespace

void parse(Program& program, size_t max_depth) {
  Parser parser(program.source, tokenize(program.source), max_depth);
  program.body = parser.parse_template();
}

}  // namespace tessera::lm::chat_template
