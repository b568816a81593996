// multipart/form-data, strictly: RFC 7578 parts inside RFC 2046's delimiters, with limits on
// the number of parts and on each part's header bytes. Nothing here allocates more than the
// body's size plus the parts' names.
#include "server/multipart.hpp"

#include <cctype>
#include <optional>
#include <utility>

namespace idphoto::server {

using base::errc;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct header_value {
  std::string value;  // the part before the first ';', trimmed
  std::vector<std::pair<std::string, std::string>> params;
};

// "type; a=b; c=\"d e\"": quoted strings may hold ';' and \-escapes. nullopt when malformed.
std::optional<header_value> parse_header_value(std::string_view s) {
  header_value out;
  std::size_t i = s.find(';');
  out.value = std::string(trim(s.substr(0, i)));
  while (i != std::string_view::npos && i < s.size()) {
    ++i;  // past ';'
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;  // a trailing ';'
    const std::size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string name(trim(s.substr(i, eq - i)));
    if (name.empty()) return std::nullopt;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return std::nullopt;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      if (i < s.size() && s[i] != ';') return std::nullopt;
    } else {
      const std::size_t end = s.find(';', i);
      value = std::string(trim(s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end;
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

const std::string* param(const header_value& h, std::string_view name) {
  for (const auto& [k, v] : h.params)
    if (k == name) return &v;
  return nullptr;
}

bool boundary_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

base::result<void> parse_part_headers(std::string_view block, form_part* part) {
  bool disposition = false, type = false;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    const std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    if (line.empty() || line.front() == ' ' || line.front() == '\t')
      return base::make_error(errc::invalid_argument, "multipart: a folded or empty part header line");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return base::make_error(errc::invalid_argument, "multipart: a part header without a name");
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Disposition")) {
      if (disposition) return base::make_error(errc::invalid_argument, "multipart: Content-Disposition twice");
      disposition = true;
      const auto h = parse_header_value(value);
      if (!h || !iequals(h->value, "form-data"))
        return base::make_error(errc::invalid_argument, "multipart: a part that is not form-data");
      const std::string* n = param(*h, "name");
      if (!n || n->empty()) return base::make_error(errc::invalid_argument, "multipart: a part without a name");
      part->name = *n;
      if (const std::string* f = param(*h, "filename")) part->filename = *f;
    } else if (iequals(name, "Content-Type")) {
      if (type) return base::make_error(errc::invalid_argument, "multipart: Content-Type twice in a part");
      type = true;
      part->content_type = std::string(value);
    }  // other part headers (Content-Transfer-Encoding is deprecated by RFC 7578 §4.7) are ignored
  }
  if (!disposition) return base::make_error(errc::invalid_argument, "multipart: a part without Content-Disposition");
  return {};
}

base::result<std::string> multipart_boundary(std::string_view content_type) {
  const auto h = parse_header_value(content_type);
  if (!h || !iequals(h->value, "multipart/form-data"))
    return base::make_error(errc::invalid_argument, "multipart: not multipart/form-data");
  const std::string* b = param(*h, "boundary");
  if (!b || b->empty()) return base::make_error(errc::invalid_argument, "multipart: no boundary");
  if (b->size() > k_multipart_max_boundary)
    return base::make_error(errc::invalid_argument, "multipart: the boundary is over 70 bytes");
  for (const char c : *b)
    if (!boundary_char(c))
      return base::make_error(errc::invalid_argument, "multipart: a byte not allowed in a boundary");
  if (b->back() == ' ') return base::make_error(errc::invalid_argument, "multipart: the boundary ends in a space");
  return *b;
}

base::result<std::vector<form_part>> parse_multipart(std::string_view content_type, std::string_view body) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary.ok()) return boundary.err();
  const std::string delim = "--" + *boundary, next = "\r\n" + delim;
  std::size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = 0;
  } else {
    pos = body.find(next);
    if (pos == std::string_view::npos) return base::make_error(errc::invalid_argument, "multipart: no delimiter");
    pos += 2;
  }
  std::vector<form_part> parts;
  for (;;) {
    std::size_t at = pos + delim.size();  // just past a delimiter
    if (body.substr(at, 2) == "--") {     // the final delimiter; the epilogue is ignored
      // RFC 2046 §5.1.1: at least one body part ("--b--" alone, or a first delimiter mistyped
      // so that the whole form reads as preamble, is not a form).
      if (parts.empty())
        return base::make_error(errc::invalid_argument, "multipart: no part before the final delimiter");
      return parts;
    }
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;  // transport padding
    if (body.substr(at, 2) != "\r\n")
      return base::make_error(errc::invalid_argument, at >= body.size() ? "multipart: no final delimiter"
                                                                        : "multipart: junk after a delimiter");
    at += 2;
    if (parts.size() == k_multipart_max_parts)
      return base::make_error(errc::invalid_argument,
                              "multipart: more than " + std::to_string(k_multipart_max_parts) + " parts");
    form_part part;
    std::size_t content_at;
    if (body.substr(at, 2) == "\r\n") {  // no headers at all: refused below (no Content-Disposition)
      content_at = at + 2;
      if (auto h = parse_part_headers({}, &part); !h.ok()) return h.err();
    } else {
      const std::string_view window = body.substr(at, k_multipart_max_part_headers + 4);
      const std::size_t end = window.find("\r\n\r\n");
      if (end == std::string_view::npos)
        return base::make_error(errc::invalid_argument, window.size() > k_multipart_max_part_headers
                                                            ? "multipart: a part's headers are too long"
                                                            : "multipart: a part's headers are truncated");
      if (end > k_multipart_max_part_headers)
        return base::make_error(errc::invalid_argument, "multipart: a part's headers are too long");
      if (auto h = parse_part_headers(window.substr(0, end), &part); !h.ok()) return h.err();
      content_at = at + end + 4;
    }
    const std::size_t end = body.find(next, content_at);
    if (end == std::string_view::npos) return base::make_error(errc::invalid_argument, "multipart: no final delimiter");
    part.content = std::string(body.substr(content_at, end - content_at));
    parts.push_back(std::move(part));
    pos = end + 2;
  }
}

}  // namespace idphoto::server
