// Template values: Python's types as Jinja sees them (undefined, None, bool, int, float, str,
// list/tuple, dict with insertion order, and objects: namespaces, loop state, callables).
//
// Lists, dicts, objects and scopes live in a per-render Heap and values point at them: templates
// can build reference cycles (`x.append(x)`, `ns.me = ns`) and deep chains, which reference
// counting would leak or free recursively; the heap frees everything at once, iteratively, when
// the render ends, and charges what it holds against the render's memory limit. Walkers over
// nested values (repr, equality, tojson) take a depth budget so cycles end in an error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace tessera::lm::chat_template {

class Interpreter;
struct ListData;
struct DictData;
class Object;
class Callable;

struct Undefined {
  // What was looked up, for "'x' is undefined" messages.
  std::string hint;
};
struct NoneType {};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Object, Callable };

  Value() : v_(Undefined{}) {}
  Value(NoneType) : v_(NoneType{}) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(ListData* l) : v_(l) {}
  Value(DictData* d) : v_(d) {}
  Value(Object* o) : v_(o) {}
  Value(Callable* c) : v_(c) {}
  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  static Value none() { return Value(NoneType{}); }

  Kind kind() const { return Kind(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  // int, float or bool (Python's bool is an int).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_object() const { return kind() == Kind::Object; }
  bool is_callable() const { return kind() == Kind::Callable; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& str() const { return std::get<std::string>(v_); }
  std::string& str() { return std::get<std::string>(v_); }
  ListData& list() const { return *std::get<ListData*>(v_); }
  DictData& dict() const { return *std::get<DictData*>(v_); }
  Object& object() const { return *std::get<Object*>(v_); }
  Callable& callable() const { return *std::get<Callable*>(v_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }
  // Heap address of a list, dict, object or callable; null for the rest.
  const void* identity() const;

  // An int or bool as int64 (bool counts as 0/1).
  int64_t to_int() const { return is_bool() ? int64_t(as_bool()) : as_int(); }
  // Any number as double.
  double to_double() const { return is_float() ? as_float() : double(to_int()); }

 private:
  explicit Value(Undefined u) : v_(std::move(u)) {}
  std::variant<Undefined, NoneType, bool, int64_t, double, std::string, ListData*, DictData*, Object*, Callable*> v_;
};

struct HeapItem {
  virtual ~HeapItem() = default;
};

struct ListData : HeapItem {
  std::vector<Value> items;
  // Tuples print with parentheses; otherwise they act as lists.
  bool tuple = false;
};

// A dict keeping insertion order; keys are hashable values (None, bools, numbers, strings and
// tuples of those), with 1, 1.0 and True the same key as in Python.
struct DictData : HeapItem {
  std::vector<std::pair<Value, Value>> entries;
  std::unordered_map<std::string, size_t> index;

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(const Value& key, Value value);
  size_t size() const { return entries.size(); }
};

// Function arguments as written at the call site.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Object : public HeapItem {
 public:
  virtual const char* type_name() const = 0;
  // Undefined when there is no such attribute.
  virtual Value attr(const std::string& name, Interpreter& in) = 0;
  // Throws when the object does not take assignments.
  virtual void set_attr(const std::string& name, Value value);
  virtual std::string repr(int depth) const;
};

class Callable : public HeapItem {
 public:
  explicit Callable(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  virtual Value call(Interpreter& in, Args& args) = 0;

 private:
  std::string name_;
};

// Owns every list, dict, object and scope of one render.
class Heap {
 public:
  explicit Heap(size_t budget_bytes) : budget_(budget_bytes) {}
  ListData* list(std::vector<Value> items = {}, bool tuple = false);
  DictData* dict();
  template <class T, class... A>
  T* make(A&&... args) {
    charge(sizeof(T) + 64);
    auto item = std::make_unique<T>(std::forward<A>(args)...);
    T* raw = item.get();
    items_.push_back(std::move(item));
    return raw;
  }
  // Counts bytes against the budget; throws a runtime TemplateError past it.
  void charge(size_t bytes);
  // Approximate bytes a value adds to a container holding it.
  static size_t footprint(const Value& v);

 private:
  std::vector<std::unique_ptr<HeapItem>> items_;
  size_t used_ = 0;
  size_t budget_;
};

// Python's type name ('str', 'int', 'list', 'NoneType', ...).
std::string type_name(const Value& v);
bool truthy(const Value& v);
// The dict key a value stands for, or nullopt when the value is unhashable (lists, dicts).
std::optional<std::string> hash_key(const Value& v, int depth = 64);

// str() and repr() as Python prints them. Throw a runtime TemplateError when the structure is
// nested deeper than `depth` (cyclic structures are).
std::string to_str(const Value& v, int depth);
std::string repr(const Value& v, int depth);
std::string repr_string(std::string_view s);
// repr() of a float: the shortest round-trip digits, in Python's choice of fixed or exponent form.
std::string float_repr(double d);

bool equals(const Value& a, const Value& b, int depth);
// <0, 0, >0; throws a runtime TemplateError for types Python cannot order.
int compare(const Value& a, const Value& b, int depth);

}  // namespace tessera::lm::chat_template
