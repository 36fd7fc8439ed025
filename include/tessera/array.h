// The lazy array (follows MLX's array.h). An array is either materialized (it owns a view of a
// buffer) or a graph node: a primitive applied to input arrays, computed on `eval`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "tessera/device.h"
#include "tessera/dtype.h"

namespace tessera {

using ShapeElem = int32_t;
using Shape = std::vector<ShapeElem>;
using Strides = std::vector<int64_t>;

namespace allocator {

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(void* ptr) : ptr_(ptr) {}
  void* raw_ptr() const { return ptr_; }
  const void* ptr() const { return ptr_; }
  void* ptr() { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

Buffer malloc(size_t size);
void free(Buffer buffer);

}  // namespace allocator

class Primitive;
namespace detail {
inline std::atomic<int> g_tracing_depth{0};
inline bool in_tracing() { return g_tracing_depth.load(std::memory_order_relaxed) > 0; }
// Marks the scope in which a transform calls the function it traces.
struct InTracing {
  InTracing() { g_tracing_depth.fetch_add(1, std::memory_order_relaxed); }
  ~InTracing() { g_tracing_depth.fetch_sub(1, std::memory_order_relaxed); }
  InTracing(const InTracing&) = delete;
  InTracing& operator=(const InTracing&) = delete;
};
}  // namespace detail
using Deleter = std::function<void(allocator::Buffer)>;

class array {
 public:
  // Scalars: 0-d arrays.
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T> || std::is_same_v<T, float16_t> ||
                                                    std::is_same_v<T, bfloat16_t>>>
  explicit array(T val, Dtype dtype = dtype_of<T>());
  explicit array(const complex64_t& val, Dtype dtype = complex64);

  // From an iterator over size(shape) elements.
  template <typename It>
  array(It data, Shape shape, Dtype dtype = dtype_of<typename std::iterator_traits<It>::value_type>());

  template <typename T>
  array(std::initializer_list<T> data, Dtype dtype = dtype_of<T>());
  // Plain braced lists of floats are float32, as in MLX.
  array(std::initializer_list<float> data);
  array(std::initializer_list<int> data, Dtype dtype);
  template <typename T>
  array(std::initializer_list<T> data, Shape shape, Dtype dtype = dtype_of<T>());

  // Takes ownership of `data` (a buffer from allocator::malloc unless a deleter says otherwise).
  array(allocator::Buffer data, Shape shape, Dtype dtype, Deleter deleter = allocator::free);
  // Wraps external memory; `deleter` runs when the last array using it goes away.
  array(void* data, Shape shape, Dtype dtype, const std::function<void(void*)>& deleter);

  // Graph node.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  array(const array&) = default;
  array(array&&) = default;
  array& operator=(const array& other) &;
  array& operator=(array&& other) &;

  size_t itemsize() const { return size_of(dtype()); }
  size_t size() const { return desc_->size; }
  size_t nbytes() const { return size() * itemsize(); }
  size_t ndim() const { return desc_->shape.size(); }
  const Shape& shape() const { return desc_->shape; }
  // Negative dims count from the end.
  int shape(int dim) const { return desc_->shape.at(dim < 0 ? dim + int(ndim()) : dim); }
  const Strides& strides() const {
    return desc_->strides.size() == desc_->shape.size() ? desc_->strides : lazy_strides();
  }
  int64_t strides(int dim) const { return strides().at(dim < 0 ? dim + int(ndim()) : dim); }
  Dtype dtype() const { return desc_->dtype; }

  void eval();

  template <typename T>
  T item();
  template <typename T>
  T item() const;

  // Iterates over the first axis, yielding sub-arrays (lazy).
  struct ArrayIterator {
    using iterator_category = std::random_access_iterator_tag;
    using difference_type = std::ptrdiff_t;
    using value_type = const array;
    using reference = value_type;
    ArrayIterator(const array& arr, int idx = 0);
    reference operator*() const;
    ArrayIterator& operator+(difference_type diff) {
      idx += diff;
      return *this;
    }
    ArrayIterator& operator++() {
      idx++;
      return *this;
    }
    friend bool operator==(const ArrayIterator& a, const ArrayIterator& b) { return a.arr.id() == b.arr.id() && a.idx == b.idx; }
    friend bool operator!=(const ArrayIterator& a, const ArrayIterator& b) { return !(a == b); }

   private:
    const array& arr;
    int idx;
  };
  ArrayIterator begin() const { return ArrayIterator(*this); }
  ArrayIterator end() const { return ArrayIterator(*this, shape(0)); }

  // ---- Internals used by primitives, backends and transforms. ----
  struct Flags {
    bool contiguous : 1;      // the elements occupy a dense range (any order)
    bool row_contiguous : 1;  // C order
    bool col_contiguous : 1;  // Fortran order
  };

  struct Data {
    allocator::Buffer buffer;
    Deleter d;
    size_t nbytes = 0;
    Data(allocator::Buffer b, Deleter d, size_t nbytes) : buffer(b), d(std::move(d)), nbytes(nbytes) {}
    Data(const Data&) = delete;
    Data& operator=(const Data&) = delete;
    ~Data() { d(buffer); }
  };

  enum class Status { unscheduled, scheduled, evaluated, available };

  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }
  uintptr_t primitive_id() const { return reinterpret_cast<uintptr_t>(desc_->primitive.get()); }

  Primitive& primitive() const { return *desc_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  bool has_primitive() const { return desc_->primitive != nullptr; }
  const std::vector<array>& inputs() const { return desc_->inputs; }
  std::vector<array>& inputs() { return desc_->inputs; }
  const std::vector<array>& siblings() const { return desc_->siblings; }
  // This array and its siblings, in output order.
  std::vector<array> outputs() const;
  int position() const { return desc_->position; }
  // Drops the graph behind this (evaluated) array so that intermediates can be freed.
  void detach();
  // detach(), handing the primitive back instead of releasing it (a replay plan runs it again).
  std::shared_ptr<Primitive> detach_primitive();

  bool is_evaluated() const { return desc_->status >= Status::evaluated; }
  // A tracer is an input of a function being transformed (or computed from one) while the
  // transform traces it: eval keeps its graph so the transform can walk it.
  bool is_tracer() const { return desc_->is_tracer && detail::in_tracing(); }
  void set_tracer(bool t) { desc_->is_tracer = t; }
  Status status() const { return desc_->status; }
  void set_status(Status s) const { desc_->status = s; }

  template <typename T>
  T* data() {
    return static_cast<T*>(desc_->data_ptr);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(desc_->data_ptr);
  }
  void* raw_data() const { return desc_->data_ptr; }
  // Number of elements of the buffer reachable from data() (for contiguous views).
  size_t data_size() const { return desc_->data_size; }
  allocator::Buffer& buffer() { return desc_->data->buffer; }
  const allocator::Buffer& buffer() const { return desc_->data->buffer; }
  size_t buffer_size() const { return desc_->data->nbytes; }
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }
  Flags flags() const { return desc_->flags; }
  bool is_donatable() const { return desc_.use_count() == 1 && desc_->data && desc_->data.use_count() == 1; }
  long use_count() const { return desc_.use_count(); }

  // Gives the array a fresh row-contiguous buffer.
  void set_data(allocator::Buffer buffer, Deleter d = allocator::free);
  void set_data(allocator::Buffer buffer, size_t data_size, Strides strides, Flags flags,
                Deleter d = allocator::free);
  // Makes this array a view into `other`'s buffer.
  void copy_shared_buffer(const array& other, const Strides& strides, Flags flags, size_t data_size,
                          int64_t offset_elems = 0);
  void copy_shared_buffer(const array& other, Strides&& strides, Flags flags, size_t data_size,
                          int64_t offset_elems = 0);
  void copy_shared_buffer(const array& other);
  // Takes over `other`'s buffer (donation).
  void move_shared_buffer(array other);

  void overwrite_descriptor(const array& other) { desc_ = other.desc_; }

 private:
  array() = default;

  template <typename It>
  void init(It src);
  const Strides& lazy_strides() const;

  struct ArrayDesc {
    Shape shape;
    Strides strides;
    size_t size = 0;
    Dtype dtype;
    std::shared_ptr<Primitive> primitive;
    Status status = Status::unscheduled;
    bool is_tracer = false;

    std::shared_ptr<Data> data;
    void* data_ptr = nullptr;
    size_t data_size = 0;
    Flags flags{true, true, true};

    std::vector<array> inputs;
    std::vector<array> siblings;
    uint32_t position = 0;

    explicit ArrayDesc(Shape shape, Dtype dtype);
    ArrayDesc(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
    ~ArrayDesc();
  };

  std::shared_ptr<ArrayDesc> desc_;
};

// Writes `n` elements of type `From` into `dst` as `dtype` (used by the constructors).
namespace detail {
void copy_convert_from_host(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n);
[[noreturn]] void throw_item_error(const char* why);
size_t shape_size(const Shape& shape, const char* op);
}  // namespace detail

template <typename T, typename>
array::array(T val, Dtype dtype) : desc_(std::make_shared<ArrayDesc>(Shape{}, dtype)) {
  init(&val);
}

template <typename It>
array::array(It data, Shape shape, Dtype dtype) : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  init(data);
}

template <typename T>
array::array(std::initializer_list<T> data, Dtype dtype)
    : desc_(std::make_shared<ArrayDesc>(Shape{static_cast<ShapeElem>(data.size())}, dtype)) {
  init(data.begin());
}

template <typename T>
array::array(std::initializer_list<T> data, Shape shape, Dtype dtype)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  if (data.size() != size()) {
    throw std::invalid_argument("[array] Data size and provided shape mismatch in array construction.");
  }
  init(data.begin());
}

template <typename It>
void array::init(It src) {
  using T = std::remove_cv_t<typename std::iterator_traits<It>::value_type>;
  using Src = std::conditional_t<std::is_same_v<T, long long>, int64_t,
                                 std::conditional_t<std::is_same_v<T, unsigned long long>, uint64_t, T>>;
  set_data(allocator::malloc(size() * itemsize()));
  if constexpr (std::is_pointer_v<It> || std::is_same_v<It, typename std::vector<T>::const_iterator> ||
                std::is_same_v<It, typename std::vector<T>::iterator>) {
    if constexpr (!std::is_same_v<T, bool>) {
      if (size() > 0) {
        detail::copy_convert_from_host(&*src, dtype_of<Src>(), raw_data(), dtype(), size());
      }
      return;
    }
  }
  std::vector<Src> tmp;
  tmp.reserve(size());
  for (size_t i = 0; i < size(); ++i, ++src) tmp.push_back(static_cast<Src>(*src));
  if (size() > 0) {
    if constexpr (std::is_same_v<Src, bool>) {
      std::vector<uint8_t> b(tmp.begin(), tmp.end());
      detail::copy_convert_from_host(b.data(), bool_, raw_data(), dtype(), size());
    } else {
      detail::copy_convert_from_host(tmp.data(), dtype_of<Src>(), raw_data(), dtype(), size());
    }
  }
}

template <typename T>
T array::item() {
  if (size() != 1) detail::throw_item_error("item can only be called on arrays of size 1.");
  eval();
  T out;
  detail::copy_convert_from_host(raw_data(), dtype(), &out, dtype_of<T>(), 1);
  return out;
}

template <typename T>
T array::item() const {
  if (size() != 1) detail::throw_item_error("item can only be called on arrays of size 1.");
  if (!is_evaluated()) detail::throw_item_error("item() const can only be called on evaluated arrays.");
  T out;
  detail::copy_convert_from_host(raw_data(), dtype(), &out, dtype_of<T>(), 1);
  return out;
}

}  // namespace tessera
