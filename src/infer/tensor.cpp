// Host tensor helpers: dtype names and sizes, value conversion, fp16 <-> fp32.
#include "infer/tensor.hpp"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

namespace idphoto::infer {

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32:
      return "float32";
    case dtype::f16:
      return "float16";
    case dtype::f64:
      return "float64";
    case dtype::i64:
      return "int64";
    case dtype::i32:
      return "int32";
    case dtype::i8:
      return "int8";
    case dtype::u8:
      return "uint8";
    case dtype::boolean:
      return "bool";
    case dtype::unknown:
      return "unknown";
  }
  return "unknown";
}

dtype dtype_from_onnx(int64_t onnx_code) {
  switch (onnx_code) {  // onnx.proto TensorProto.DataType
    case 1:
      return dtype::f32;
    case 10:
      return dtype::f16;
    case 11:
      return dtype::f64;
    case 7:
      return dtype::i64;
    case 6:
      return dtype::i32;
    case 3:
      return dtype::i8;
    case 2:
      return dtype::u8;
    case 9:
      return dtype::boolean;
    default:
      return dtype::unknown;
  }
}

size_t dtype_size(dtype t) {
  switch (t) {
    case dtype::f32:
    case dtype::i32:
      return 4;
    case dtype::f16:
      return 2;
    case dtype::f64:
    case dtype::i64:
      return 8;
    case dtype::i8:
    case dtype::u8:
    case dtype::boolean:
      return 1;
    case dtype::unknown:
      return 0;
  }
  return 0;
}

int64_t numel(const shape_t& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const shape_t& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << ']';
  return o.str();
}

tensor tensor::zeros(dtype t, shape_t s) {
  tensor r;
  r.type = t;
  r.shape = std::move(s);
  r.bytes.assign(static_cast<size_t>(numel(r.shape)) * dtype_size(t), std::byte{0});
  return r;
}

tensor tensor::from_f32(shape_t s, const std::vector<float>& v) {
  tensor r = zeros(dtype::f32, std::move(s));
  const size_t n = std::min(r.bytes.size(), v.size() * 4);
  if (n) std::memcpy(r.bytes.data(), v.data(), n);  // empty vectors may have null data()
  return r;
}

tensor tensor::from_i64(shape_t s, const std::vector<int64_t>& v) {
  tensor r = zeros(dtype::i64, std::move(s));
  const size_t n = std::min(r.bytes.size(), v.size() * 8);
  if (n) std::memcpy(r.bytes.data(), v.data(), n);
  return r;
}

template <class Out>
static std::vector<Out> convert_values(const tensor& t) {
  const size_t n = static_cast<size_t>(t.size());
  std::vector<Out> r(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.type) {
      case dtype::f32:
        r[i] = static_cast<Out>(t.data<float>()[i]);
        break;
      case dtype::f16:
        r[i] = static_cast<Out>(half_to_float(t.data<uint16_t>()[i]));
        break;
      case dtype::f64:
        r[i] = static_cast<Out>(t.data<double>()[i]);
        break;
      case dtype::i64:
        r[i] = static_cast<Out>(t.data<int64_t>()[i]);
        break;
      case dtype::i32:
        r[i] = static_cast<Out>(t.data<int32_t>()[i]);
        break;
      case dtype::i8:
        r[i] = static_cast<Out>(t.data<int8_t>()[i]);
        break;
      case dtype::u8:
      case dtype::boolean:
        r[i] = static_cast<Out>(t.data<uint8_t>()[i]);
        break;
      case dtype::unknown:
        r[i] = 0;
        break;
    }
  }
  return r;
}

std::vector<double> to_f64_values(const tensor& t) { return convert_values<double>(t); }

std::vector<int64_t> to_i64_values(const tensor& t) {
  if (t.type == dtype::f32 || t.type == dtype::f16 || t.type == dtype::f64) {
    // Float -> int truncates toward zero, as ONNX Cast does.
    auto d = convert_values<double>(t);
    std::vector<int64_t> r(d.size());
    for (size_t i = 0; i < d.size(); ++i) r[i] = static_cast<int64_t>(std::trunc(d[i]));
    return r;
  }
  return convert_values<int64_t>(t);
}

void release_pages(const void* p, size_t n) {
  if (!p || n == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

void release_pages(const tensor& t) {
  if (t.ext) release_pages(t.ext, t.ext_size);
}

tensor to_f32(const tensor& t) {
  if (t.type == dtype::f32) {
    if (!t.ext) return t;
    tensor r = tensor::zeros(dtype::f32, t.shape);
    if (!r.bytes.empty()) std::memcpy(r.bytes.data(), t.ext, r.bytes.size());
    return r;
  }
  tensor r = tensor::zeros(dtype::f32, t.shape);
  if (t.type == dtype::f16) {
    half_to_float_n(t.data<uint16_t>(), r.data<float>(), static_cast<size_t>(t.size()));
  } else {
    auto v = convert_values<float>(t);
    if (!v.empty()) std::memcpy(r.bytes.data(), v.data(), v.size() * 4);  // empty: data() may be null
  }
  return r;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  // Round to nearest even, via F16C when available at compile time is not assumed.
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

namespace {

// F16C, and the AVX register state its 256-bit form needs, on this CPU and enabled by the OS.
// Read with cpuid and xgetbv, not __builtin_cpu_supports("f16c"): clang 14 (the fuzz preset)
// does not know that feature name.
bool cpu_has_f16c() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    if (!(c & bit_F16C) || !(c & bit_AVX) || !(c & bit_OSXSAVE)) return false;
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;  // XMM and YMM state saved by the OS
  }();
  return has;
}

}  // namespace

void half_to_float_n(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  if (cpu_has_f16c()) {
    for (; i + 8 <= n; i += 8) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
  }
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

}  // namespace idphoto::infer
