// Devices and streams (follows MLX's device.h / stream.h).
#pragma once

#include <ostream>
#include <variant>

namespace tessera {

struct Device {
  // `reference` is Tessera's plain scalar backend: no SIMD, no threads. The test harness runs every
  // primitive on it as the oracle for the optimized backends.
  enum class DeviceType { cpu, gpu, reference };
  static constexpr DeviceType cpu = DeviceType::cpu;
  static constexpr DeviceType gpu = DeviceType::gpu;
  static constexpr DeviceType reference = DeviceType::reference;

  constexpr Device(DeviceType type, int index = 0) : type(type), index(index) {}

  DeviceType type;
  int index;
};

const Device& default_device();
void set_default_device(const Device& d);
bool is_available(const Device& d);

inline bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
inline bool operator!=(const Device& a, const Device& b) { return !(a == b); }
std::ostream& operator<<(std::ostream& os, const Device& d);

struct Stream {
  int index;
  Device device;
  explicit Stream(int index, Device device) : index(index), device(device) {}
};

Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);
void synchronize();
void synchronize(Stream s);

inline bool operator==(const Stream& a, const Stream& b) { return a.index == b.index; }
inline bool operator!=(const Stream& a, const Stream& b) { return a.index != b.index; }
std::ostream& operator<<(std::ostream& os, const Stream& s);

using StreamOrDevice = std::variant<std::monostate, Stream, Device>;
Stream to_stream(StreamOrDevice s);
Stream to_stream(StreamOrDevice s, Device default_);

// RAII: make `s` the default stream for the current scope.
struct StreamContext {
  explicit StreamContext(StreamOrDevice s);
  ~StreamContext();

 private:
  Stream prev_stream_;
  Device prev_device_;
};

}  // namespace tessera
