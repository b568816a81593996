// unique_handle: a std::unique_ptr for a C library's handle, closed by the library's own free
// function — one spelling for every curl, libpq, sqlite, OpenSSL, cairo, pango, qrencode and
// rabbitmq-c handle. (image.hpp's VipsImage keeps a deleter defined out of line: its header
// must not need GLib's.)
//   using curl_ptr = base::unique_handle<CURL, curl_easy_cleanup>;
#pragma once
#include <memory>

namespace idphoto::base {

template <auto Free>
struct handle_deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p != nullptr) Free(p);
  }
};

template <class T, auto Free>
using unique_handle = std::unique_ptr<T, handle_deleter<Free>>;

}  // namespace idphoto::base
