// catching: runs a function that returns base::result<T> and turns any exception it lets out
// into that result's error — for the boundaries where a throw would end the process (worker
// threads, the CLI's per-photo loops). bad_alloc is errc::unavailable (retry may fit), any
// other exception errc::internal; `what` names the step for the log.
#pragma once
#include <exception>
#include <new>
#include <string>

#include "base/result.hpp"

namespace idphoto::base {

template <class F>
auto catching(const char* what, F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return make_error(errc::unavailable, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return make_error(errc::internal, std::string(what) + " threw: " + e.what());
  } catch (...) {
    return make_error(errc::internal, std::string(what) + " threw a non-standard exception");
  }
}

}  // namespace idphoto::base
