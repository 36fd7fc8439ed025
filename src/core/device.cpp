#include <atomic>
#include <mutex>
#include <stdexcept>

#include "tessera/device.h"

namespace tessera {

namespace {

Device& default_device_ref() {
  static Device d(Device::cpu, 0);
  return d;
}

// Default streams are read by every op, so they live in atomics (packed stream index and
// device) rather than behind a lock.
uint64_t pack(const Stream& s) {
  return (uint64_t(uint32_t(s.index)) << 32) | (uint64_t(s.device.type) << 24) | uint64_t(uint32_t(s.device.index) & 0xffffff);
}
Stream unpack(uint64_t v) {
  return Stream(int(uint32_t(v >> 32)), Device(static_cast<Device::DeviceType>((v >> 24) & 0xff), int(v & 0xffffff)));
}

struct StreamState {
  std::mutex mu;
  int next_index = 2;
  std::atomic<uint64_t> cpu_default{pack(Stream(0, Device(Device::cpu)))};
  std::atomic<uint64_t> ref_default{pack(Stream(1, Device(Device::reference)))};
};

StreamState& streams() {
  static StreamState s;
  return s;
}

void check_device(const Device& d) {
  if (!is_available(d)) {
    throw std::invalid_argument(d.type == Device::gpu ? "[device] No GPU backend is available in this build of Tessera."
                                                      : "[device] Unknown device.");
  }
}

}  // namespace

bool is_available(const Device& d) { return d.type == Device::cpu || d.type == Device::reference; }

const Device& default_device() { return default_device_ref(); }

void set_default_device(const Device& d) {
  check_device(d);
  default_device_ref() = d;
}

std::ostream& operator<<(std::ostream& os, const Device& d) {
  switch (d.type) {
    case Device::cpu:
      os << "Device(cpu, ";
      break;
    case Device::gpu:
      os << "Device(gpu, ";
      break;
    case Device::reference:
      os << "Device(reference, ";
      break;
  }
  return os << d.index << ")";
}

Stream default_stream(Device d) {
  auto& st = streams();
  if (d.type == Device::cpu) return unpack(st.cpu_default.load(std::memory_order_relaxed));
  if (d.type == Device::reference) return unpack(st.ref_default.load(std::memory_order_relaxed));
  check_device(d);
  return unpack(st.cpu_default.load());
}

void set_default_stream(Stream s) {
  check_device(s.device);
  auto& st = streams();
  if (s.device.type == Device::reference) st.ref_default.store(pack(s));
  else st.cpu_default.store(pack(s));
}

Stream new_stream(Device d) {
  check_device(d);
  auto& st = streams();
  std::lock_guard<std::mutex> l(st.mu);
  return Stream(st.next_index++, d);
}

std::ostream& operator<<(std::ostream& os, const Stream& s) {
  return os << "Stream(" << s.device << ", " << s.index << ")";
}

Stream to_stream(StreamOrDevice s) { return to_stream(s, default_device()); }

Stream to_stream(StreamOrDevice s, Device default_) {
  if (std::holds_alternative<std::monostate>(s)) return default_stream(default_);
  if (std::holds_alternative<Device>(s)) return default_stream(std::get<Device>(s));
  return std::get<Stream>(s);
}

StreamContext::StreamContext(StreamOrDevice s)
    : prev_stream_(default_stream(default_device())), prev_device_(default_device()) {
  if (std::holds_alternative<std::monostate>(s)) {
    throw std::runtime_error("[StreamContext] Invalid argument, please specify a stream or device.");
  }
  Stream st = to_stream(s);
  set_default_device(st.device);
  set_default_stream(st);
}

StreamContext::~StreamContext() {
  set_default_device(prev_device_);
  set_default_stream(prev_stream_);
}

}  // namespace tessera
