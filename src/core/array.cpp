#include "tessera/array.h"

#include <utility>

#include "core/convert.h"
#include "core/node_pool.h"
#include "primitives/primitive.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

Strides row_major_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (int i = int(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  return s;
}

}  // namespace

array::ArrayDesc::ArrayDesc(Shape shape_, Dtype dtype_)
    : shape(std::move(shape_)), size(detail::shape_size(shape, "array")), dtype(dtype_) {
  strides = row_major_strides(shape);
}

array::ArrayDesc::ArrayDesc(Shape shape_, Dtype dtype_, std::shared_ptr<Primitive> primitive_,
                            std::vector<array> inputs_)
    : shape(std::move(shape_)),
      size(detail::shape_size(shape, "array")),
      dtype(dtype_),
      primitive(std::move(primitive_)),
      inputs(std::move(inputs_)) {
  for (auto& in : inputs) is_tracer = is_tracer || in.desc_->is_tracer;
  // Strides are filled in when the node gets data (or on first request): most graph nodes
  // never need them before that, and skipping them saves an allocation per op.
}

// Destroying the head of a long unevaluated chain would recurse once per node; unlink the
// graph iteratively instead so a million-node chain cannot overflow the stack.
array::ArrayDesc::~ArrayDesc() {
  if (inputs.empty()) return;
  std::vector<std::shared_ptr<ArrayDesc>> pending;
  auto take_inputs = [&pending](std::vector<array>& ins) {
    for (auto& in : ins) {
      if (in.desc_ && in.desc_.use_count() == 1) pending.push_back(std::move(in.desc_));
    }
    ins.clear();
  };
  take_inputs(inputs);
  while (!pending.empty()) {
    auto d = std::move(pending.back());
    pending.pop_back();
    d->siblings.clear();
    take_inputs(d->inputs);
  }
}

array::array(const complex64_t& val, Dtype dtype) : desc_(std::make_shared<ArrayDesc>(Shape{}, dtype)) {
  init(&val);
}

array::array(std::initializer_list<float> data)
    : desc_(std::make_shared<ArrayDesc>(Shape{static_cast<ShapeElem>(data.size())}, float32)) {
  init(data.begin());
}

array::array(std::initializer_list<int> data, Dtype dtype)
    : desc_(std::make_shared<ArrayDesc>(Shape{static_cast<ShapeElem>(data.size())}, dtype)) {
  init(data.begin());
}

namespace {

// The shape an array adopting `data` will have, checked first: an invalid shape hands the buffer
// back to its deleter before the error propagates, since the caller gave up ownership.
Shape checked_for_adoption(Shape shape, allocator::Buffer data, const Deleter& deleter) {
  try {
    (void)detail::shape_size(shape, "array");
  } catch (...) {
    if (deleter) deleter(data);
    throw;
  }
  return shape;
}

}  // namespace

array::array(allocator::Buffer data, Shape shape, Dtype dtype, Deleter deleter)
    : desc_(std::make_shared<ArrayDesc>(checked_for_adoption(std::move(shape), data, deleter), dtype)) {
  set_data(data, std::move(deleter));
}

array::array(void* data, Shape shape, Dtype dtype, const std::function<void(void*)>& deleter)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  auto d = deleter;
  set_data(allocator::Buffer(data), [d](allocator::Buffer b) {
    if (d) d(b.raw_ptr());
  });
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs)
    : desc_(std::allocate_shared<ArrayDesc>(node_pool::Allocator<ArrayDesc>{}, std::move(shape), dtype,
                                            std::move(primitive), std::move(inputs))) {}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  std::vector<array> outputs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outputs.emplace_back(std::move(shapes[i]), dtypes[i], primitive, inputs);
  }
  // Every output holds the inputs and its siblings, so any one of them can be evaluated alone;
  // eval computes all outputs of the primitive at once and detach() breaks the sibling cycle.
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& sib = outputs[i].desc_->siblings;
    for (size_t j = 0; j < outputs.size(); ++j) {
      if (j != i) sib.push_back(outputs[j]);
    }
    outputs[i].desc_->position = uint32_t(i);
  }
  return outputs;
}

array& array::operator=(const array& other) & {
  if (this->id() != other.id()) desc_ = other.desc_;
  return *this;
}

array& array::operator=(array&& other) & {
  if (this->id() != other.id()) desc_ = std::move(other.desc_);
  return *this;
}

std::vector<array> array::outputs() const {
  std::vector<array> out;
  auto& sib = siblings();
  out.reserve(sib.size() + 1);
  size_t pos = position();
  for (size_t i = 0; i < sib.size() + 1; ++i) {
    if (i == pos) out.push_back(*this);
    else out.push_back(sib[i < pos ? i : i - 1]);
  }
  return out;
}

void array::detach() {
  for (auto& s : desc_->siblings) {
    s.desc_->inputs.clear();
    s.desc_->siblings.clear();
    s.desc_->position = 0;
    s.desc_->primitive = nullptr;
  }
  desc_->inputs.clear();
  desc_->siblings.clear();
  desc_->position = 0;
  desc_->primitive = nullptr;
}

std::shared_ptr<Primitive> array::detach_primitive() {
  std::shared_ptr<Primitive> p = std::move(desc_->primitive);
  detach();
  return p;
}

void array::eval() {
  if (!is_evaluated()) tessera::eval({*this});
}

void array::set_data(allocator::Buffer buffer, Deleter d) {
  desc_->data = std::allocate_shared<Data>(node_pool::Allocator<Data>{}, buffer, std::move(d), nbytes());
  desc_->data_ptr = buffer.raw_ptr();
  desc_->data_size = size();
  desc_->flags = Flags{true, true, true};
  if (ndim() > 1) desc_->flags.col_contiguous = size() <= 1;
  // A row-contiguous array with at most one dimension larger than 1 is also column-contiguous.
  if (ndim() > 1) {
    int big = 0;
    for (auto s : shape()) big += s > 1;
    desc_->flags.col_contiguous = big <= 1;
  }
  desc_->strides = row_major_strides(shape());
  desc_->status = Status::evaluated;
}

void array::set_data(allocator::Buffer buffer, size_t data_size, Strides strides, Flags flags, Deleter d) {
  desc_->data = std::make_shared<Data>(buffer, std::move(d), data_size * itemsize());
  desc_->data_ptr = buffer.raw_ptr();
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->status = Status::evaluated;
}

void array::copy_shared_buffer(const array& other, const Strides& strides, Flags flags, size_t data_size,
                               int64_t offset_elems) {
  desc_->data = other.desc_->data;
  if (&strides != &desc_->strides) desc_->strides = strides;
  desc_->flags = flags;
  desc_->data_size = data_size;
  desc_->data_ptr = static_cast<char*>(other.desc_->data_ptr) + offset_elems * int64_t(other.itemsize());
  desc_->status = Status::evaluated;
}

void array::copy_shared_buffer(const array& other, Strides&& strides, Flags flags, size_t data_size,
                               int64_t offset_elems) {
  desc_->strides = std::move(strides);
  copy_shared_buffer(other, desc_->strides, flags, data_size, offset_elems);
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

void array::move_shared_buffer(array other) {
  desc_->data = std::move(other.desc_->data);
  desc_->strides = other.strides();
  desc_->flags = other.flags();
  desc_->data_size = other.data_size();
  desc_->data_ptr = other.desc_->data_ptr;
  desc_->status = Status::evaluated;
}

const Strides& array::lazy_strides() const {
  if (desc_->strides.size() != desc_->shape.size()) desc_->strides = row_major_strides(desc_->shape);
  return desc_->strides;
}

array::ArrayIterator::ArrayIterator(const array& arr, int idx) : arr(arr), idx(idx) {
  if (arr.ndim() == 0) throw std::invalid_argument("[iterator] Cannot iterate over 0-d array.");
}

array::ArrayIterator::reference array::ArrayIterator::operator*() const {
  Shape start(arr.ndim(), 0);
  Shape stop = arr.shape();
  start[0] = idx;
  stop[0] = idx + 1;
  return reshape(slice(arr, start, stop), Shape(arr.shape().begin() + 1, arr.shape().end()));
}

}  // namespace tessera
