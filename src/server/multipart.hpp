// A strict multipart/form-data parser (RFC 7578 over RFC 2046): the boundary from the
// Content-Type, every part's headers and content. Self-contained (a fuzz target links it alone).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace idphoto::server {

// One part of a form: its field name, the filename and Content-Type when given, its bytes.
struct form_part {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string content;
};

inline constexpr std::size_t k_multipart_max_parts = 64;           // parts in one body
inline constexpr std::size_t k_multipart_max_part_headers = 8192;  // header bytes of one part
inline constexpr std::size_t k_multipart_max_boundary = 70;        // RFC 2046 §5.1.1

// The boundary parameter of a multipart/form-data Content-Type (quoted or not); invalid_argument
// when the type is another one or the boundary is missing, empty, over 70 bytes or has bytes
// RFC 2046 does not allow.
base::result<std::string> multipart_boundary(std::string_view content_type);

// A part's header block (its header lines without the blank line after them) into *part's
// name, filename and content_type; invalid_argument as parse_multipart says. (The spooled
// parser of server/spooled_body.hpp shares it.)
base::result<void> parse_part_headers(std::string_view block, form_part* part);

// The parts of body, in order. invalid_argument (with the reason) when: the boundary is bad, the
// body does not start with the first delimiter, a part has no blank line after its headers, a
// part's headers are over k_multipart_max_part_headers bytes, a part has no
// Content-Disposition: form-data with a name, there are more than k_multipart_max_parts parts,
// there is no part at all, or the final delimiter ("--boundary--") is missing. Text before the first delimiter (the preamble)
// and after the final one (the epilogue) is ignored, as RFC 2046 says.
base::result<std::vector<form_part>> parse_multipart(std::string_view content_type, std::string_view body);

}  // namespace idphoto::server
