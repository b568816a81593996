// Fuzz target multipart: request bodies as the server parses multipart/form-data uploads
// (parse_multipart). The first line of the input is the Content-Type (so the boundary parser is
// fuzzed too); the rest is the body. A second pass uses a fixed, valid Content-Type with the
// whole input as the body.
// Invariants: a parse that succeeds has 1..k_multipart_max_parts parts, each with a name; the
// parts written back as a body with the same boundary parse again to the same parts.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "server/multipart.hpp"

namespace {

using idphoto::server::form_part;

std::string written_back(const std::string& boundary, const std::vector<form_part>& parts) {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n" + p.content + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

// Names, filenames and types that a quoted header value can carry back unchanged.
bool plain(const std::string& s) { return s.find_first_of("\"\\\r\n") == std::string::npos; }

void check(std::string_view content_type, std::string_view body) {
  auto parts = idphoto::server::parse_multipart(content_type, body);
  if (!parts.ok()) return;
  FUZZ_CHECK(!parts->empty() && parts->size() <= idphoto::server::k_multipart_max_parts);
  bool round_trips = true;
  for (const auto& p : *parts) {
    FUZZ_CHECK(!p.name.empty());
    round_trips = round_trips && plain(p.name) && plain(p.filename) && plain(p.content_type);
  }
  auto boundary = idphoto::server::multipart_boundary(content_type);
  FUZZ_CHECK(boundary.ok());
  if (!round_trips) return;
  // A content that holds the delimiter cannot come back from a body (it would have ended the part).
  for (const auto& p : *parts)
    if (p.content.find("\r\n--" + *boundary) != std::string::npos) return;
  auto again = idphoto::server::parse_multipart(content_type, written_back(*boundary, *parts));
  FUZZ_CHECK(again.ok() && again->size() == parts->size());
  for (size_t i = 0; i < parts->size(); ++i) {
    FUZZ_CHECK((*again)[i].name == (*parts)[i].name);
    FUZZ_CHECK((*again)[i].filename == (*parts)[i].filename);
    FUZZ_CHECK((*again)[i].content == (*parts)[i].content);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = idphoto::fuzz::as_text(data, size);
  const auto nl = in.find('\n');
  if (nl != std::string_view::npos) check(in.substr(0, nl), in.substr(nl + 1));
  check("multipart/form-data; boundary=fuzzBoundary42", in);
  return 0;
}
