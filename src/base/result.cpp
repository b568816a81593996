// Names of error codes, for logs and JSON.
#include "base/result.hpp"

namespace idphoto::base {

const char* errc_name(errc c) {
  switch (c) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::unsupported:
      return "unsupported";
    case errc::not_found:
      return "not_found";
    case errc::io:
      return "io";
    case errc::corrupt:
      return "corrupt";
    case errc::too_large:
      return "too_large";
    case errc::internal:
      return "internal";
    case errc::forbidden:
      return "forbidden";
    case errc::timeout:
      return "timeout";
    case errc::unavailable:
      return "unavailable";
    case errc::conflict:
      return "conflict";
  }
  return "unknown";
}

}  // namespace idphoto::base
