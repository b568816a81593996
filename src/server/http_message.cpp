// The request's and response's accessors, and the query parser.
#include "server/http_message.hpp"

#include <strings.h>

#include <algorithm>
#include <utility>

#include "base/percent_decode.hpp"

namespace idphoto::server {

bool case_insensitive_less::operator()(std::string_view a, std::string_view b) const {
  const std::size_t n = std::min(a.size(), b.size());
  const int c = n == 0 ? 0 : strncasecmp(a.data(), b.data(), n);
  return c < 0 || (c == 0 && a.size() < b.size());
}

namespace {

std::string first_of(const header_map& h, std::string_view name) {
  const auto it = h.find(name);
  return it == h.end() ? std::string() : it->second;
}

}  // namespace

std::string http_request::get_header_value(std::string_view name) const { return first_of(headers, name); }
bool http_request::has_header(std::string_view name) const { return headers.find(name) != headers.end(); }
bool http_request::has_param(const std::string& name) const { return params.count(name) > 0; }
std::string http_request::get_param_value(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}
bool http_request::is_multipart_form_data() const {
  const std::string ct = get_header_value("Content-Type");
  return ct.size() >= 19 && strncasecmp(ct.c_str(), "multipart/form-data", 19) == 0;
}
bool http_request::has_file(const std::string& name) const { return files.count(name) > 0; }
form_part http_request::get_file_value(const std::string& name) const {
  const auto it = files.find(name);
  return it == files.end() ? form_part{} : it->second;
}

void http_response::set_header(const std::string& name, const std::string& value) {
  headers.erase(name);
  headers.emplace(name, value);
}
std::string http_response::get_header_value(std::string_view name) const { return first_of(headers, name); }
bool http_response::has_header(std::string_view name) const { return headers.find(name) != headers.end(); }
void http_response::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  provider_size.reset();
  provider = nullptr;
  set_header("Content-Type", content_type);
}
void http_response::set_content_provider(uint64_t size, const std::string& content_type, content_reader reader) {
  body.clear();
  provider_size = size;
  provider = std::move(reader);
  set_header("Content-Type", content_type);
}

bool parse_query(std::string_view query, std::multimap<std::string, std::string>* params) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string item(query.substr(0, amp));
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    std::replace(item.begin(), item.end(), '+', ' ');
    const std::size_t eq = item.find('=');
    std::string k, v;
    if (!base::percent_decode(std::string_view(item).substr(0, eq), &k)) return false;
    if (eq != std::string::npos && !base::percent_decode(std::string_view(item).substr(eq + 1), &v)) return false;
    params->emplace(std::move(k), std::move(v));
  }
  return true;
}

}  // namespace idphoto::server
