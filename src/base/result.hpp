// The error and result types every module returns instead of throwing.
// An error carries a machine code and a detail for the log; the public text a client sees comes
// from the caller's own table (server/http_errors.cpp, app::photo_error_text) or, for a field
// of the request itself, the field's own message; a detail about our side never reaches a client.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace idphoto::base {

enum class errc {
  invalid_argument,  // the caller passed something malformed
  unsupported,       // well-formed, but a feature we do not implement
  not_found,         // a file, record or name that does not exist
  io,                // the OS refused a read or write
  corrupt,           // data that does not parse (truncated, bad checksum)
  too_large,         // over a configured limit
  internal,          // a bug or a library failure on our side
  forbidden,         // refused by policy (an address the fetcher may not reach, a bad token)
  timeout,           // a deadline passed (fetch, request, job)
  unavailable,       // a dependency is down or full (database, store, queue): retry later
  conflict,          // the state changed under us (a record deleted while a job ran)
};

const char* errc_name(errc c);

struct error {
  errc code = errc::internal;
  std::string detail;  // for the log: names the file, node, or value

  std::string to_string() const { return std::string(errc_name(code)) + ": " + detail; }
};

inline error make_error(errc c, std::string detail) { return error{c, std::move(detail)}; }

// result<T>: a value or an error. Small stand-in for std::expected (C++23).
template <class T>
class [[nodiscard]] result {
 public:
  result(T v) : v_(std::move(v)) {}
  result(error e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : e_(std::move(e)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const error& err() const { return e_; }

 private:
  error e_;
  bool ok_ = true;
};

}  // namespace idphoto::base

// Propagate an error from an expression returning result<...>.
#define IDPHOTO_TRY(expr)                                  \
  do {                                                     \
    auto&& idphoto_try_r_ = (expr);                        \
    if (!idphoto_try_r_.ok()) return idphoto_try_r_.err(); \
  } while (0)
