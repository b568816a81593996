// Percent-decoding of the parts of a configuration URL (user, password, host, vhost, query
// values): one decoder for the queue, Cloudinary and S3 URLs.
#pragma once
#include <string>
#include <string_view>

namespace idphoto::base {

// Decodes %XX escapes (hex digits of either case) into *out. false on a malformed or cut
// escape, and on a control character (0x00-0x1f, 0x7f) written raw or escaped: none belongs
// in a credential, a host name or a vhost, and a decoded NUL or newline would cut or split
// the header or log line it lands in. *out is unspecified when false.
bool percent_decode(std::string_view in, std::string* out);

}  // namespace idphoto::base
