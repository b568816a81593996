// The server's own request and response values, independent of the HTTP library underneath
// (http_server.cpp fills a request from the connection and sends the response). The member
// names are the ones the routes have always used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/multipart.hpp"

namespace idphoto::server {

// Header names compare without case (RFC 9110 §5.1).
struct case_insensitive_less {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using header_map = std::multimap<std::string, std::string, case_insensitive_less>;

struct http_request {
  std::string method;  // "GET", …, as sent
  std::string path;    // percent-decoded, without the query
  std::string body;
  std::string remote_addr;
  header_map headers;
  std::multimap<std::string, std::string> params;  // the query, percent-decoded ('+' is a space)
  std::vector<std::string> matches;                // the route's captures; [0] is the whole path
  std::multimap<std::string, form_part> files;     // a multipart/form-data body's parts by field name
  // A spooled body's file part (POST /api/batches: the 'photos' ZIP) in a temporary file that
  // lives until the answer is sent, or "" (server/spooled_body.hpp).
  std::string spooled_file;

  // The first value of a header, or "".
  std::string get_header_value(std::string_view name) const;
  bool has_header(std::string_view name) const;
  bool has_param(const std::string& name) const;
  // The first value of a query parameter, or "".
  std::string get_param_value(const std::string& name) const;
  // Content-Type is multipart/form-data (the parts are in files).
  bool is_multipart_form_data() const;
  bool has_file(const std::string& name) const;
  // The first part named name, or an empty part.
  form_part get_file_value(const std::string& name) const;
};

// Reads up to max bytes of a streamed body from offset into buf: the count read (> 0), or -1 on
// an error (the connection is then closed: the length was already sent).
using content_reader = std::function<long(uint64_t offset, char* buf, std::size_t max)>;

struct http_response {
  int status = 200;
  header_map headers;
  std::string body;
  // A streamed body of provider_size bytes instead of body (GET /files).
  std::optional<uint64_t> provider_size;
  content_reader provider;

  // Replaces a header's value.
  void set_header(const std::string& name, const std::string& value);
  std::string get_header_value(std::string_view name) const;
  bool has_header(std::string_view name) const;
  void set_content(std::string content, const std::string& content_type);
  void set_content_provider(uint64_t size, const std::string& content_type, content_reader reader);
};

// The query string (after '?') into params; false when a %-escape is malformed.
bool parse_query(std::string_view query, std::multimap<std::string, std::string>* params);

}  // namespace idphoto::server
