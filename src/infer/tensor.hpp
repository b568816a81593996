// Host tensors: an element type, a shape and packed little-endian bytes.
// Used for model initialisers, folded constants, and session inputs/outputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace idphoto::infer {

enum class dtype { f32, f16, f64, i64, i32, i8, u8, boolean, unknown };

const char* dtype_name(dtype t);
size_t dtype_size(dtype t);  // 0 for unknown

using shape_t = std::vector<int64_t>;
int64_t numel(const shape_t& s);  // 1 for a scalar (empty shape)
std::string shape_str(const shape_t& s);

struct tensor {
  dtype type = dtype::f32;
  shape_t shape;
  std::vector<std::byte> bytes;

  int64_t size() const { return numel(shape); }
  template <class T> T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <class T> const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }

  static tensor zeros(dtype t, shape_t s);
  static tensor from_f32(shape_t s, const std::vector<float>& v);
  static tensor from_i64(shape_t s, const std::vector<int64_t>& v);
};

// Element values widened to double / int64 (any numeric dtype). Used when folding.
std::vector<double> to_f64_values(const tensor& t);
std::vector<int64_t> to_i64_values(const tensor& t);
// A float32 copy of a f32/f16/f64 tensor (integers are converted too).
tensor to_f32(const tensor& t);

// IEEE half <-> float, scalar and bulk (bulk uses F16C when the CPU has it).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
void half_to_float_n(const uint16_t* src, float* dst, size_t n);

}  // namespace idphoto::infer
