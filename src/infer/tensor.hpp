// Host tensors: an element type, a shape and packed little-endian bytes.
// Used for model initialisers, folded constants, and session inputs/outputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace idphoto::infer {

enum class dtype { f32, f16, f64, i64, i32, i8, u8, boolean, unknown };

const char* dtype_name(dtype t);
size_t dtype_size(dtype t);  // 0 for unknown
// ONNX TensorProto.DataType code -> dtype; unknown for codes we do not handle.
dtype dtype_from_onnx(int64_t onnx_code);

using shape_t = std::vector<int64_t>;
int64_t numel(const shape_t& s);  // 1 for a scalar (empty shape)
std::string shape_str(const shape_t& s);

struct tensor {
  dtype type = dtype::f32;
  shape_t shape;
  std::vector<std::byte> bytes;  // owned elements (empty when ext is set)
  // Or read-only elements owned elsewhere: a model initialiser left in the mapped
  // .onnx file, so fp16 weights cost no heap and their pages can be dropped after use.
  const std::byte* ext = nullptr;
  size_t ext_size = 0;
  std::shared_ptr<const void> ext_owner;  // keeps the mapping alive

  int64_t size() const { return numel(shape); }
  const std::byte* raw() const { return ext ? ext : bytes.data(); }
  size_t raw_size() const { return ext ? ext_size : bytes.size(); }
  // Mutable access is for owned tensors only.
  template <class T>
  T* data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <class T>
  const T* data() const {
    return reinterpret_cast<const T*>(raw());
  }

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

// Drops the resident pages of a mapped (ext) tensor; they are read again from the
// file if used later. A no-op for owned tensors. Never fails.
void release_pages(const tensor& t);
// The same for any memory range: whole pages inside [p, p + n) are given back to the
// kernel; anonymous memory reads as zeros afterwards, file-backed memory as the file.
void release_pages(const void* p, size_t n);

}  // namespace idphoto::infer
