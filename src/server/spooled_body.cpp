// The spooled body and its multipart parts read through pread windows. The delimiter search
// scans the file once from front to back (each part's search starts where the last one
// ended), 1 MiB at a time with an overlap of the delimiter's length, so the cost is one read
// of the body and the memory one window.
#include "server/spooled_body.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace idphoto::server {

using base::errc;

namespace {

constexpr int64_t k_window_bytes = 1 << 20;

base::error sys_error(const std::string& what) {
  return base::make_error(errc::io, what + ": " + std::strerror(errno));
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

base::result<std::unique_ptr<spooled_body>> spooled_body::create(const std::string& dir) {
  std::string tmpl = dir + "/.spool-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return sys_error("spool in " + dir);
  ::unlink(name.data());  // only the descriptor holds it from now on
  std::unique_ptr<spooled_body> b(new spooled_body());
  b->dir_ = dir;
  b->fd_ = fd;
  return b;
}

spooled_body::~spooled_body() {
  if (fd_ >= 0) ::close(fd_);
  if (!part_path_.empty()) ::unlink(part_path_.c_str());
}

base::result<void> spooled_body::append(const char* data, size_t n) {
  if (!write_all(fd_, data, n)) return sys_error("spool write");
  size_ += static_cast<int64_t>(n);
  return {};
}

base::result<std::string> spooled_body::read_at(int64_t off, int64_t n) const {
  if (off >= size_ || n <= 0) return std::string();
  n = std::min(n, size_ - off);
  std::string out(static_cast<size_t>(n), '\0');
  int64_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd_, out.data() + got, static_cast<size_t>(n - got), off + got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_error("spool read");
    if (r == 0) break;
    got += r;
  }
  out.resize(static_cast<size_t>(got));
  return out;
}

base::result<int64_t> spooled_body::find(std::string_view pattern, int64_t from) const {
  const int64_t overlap = static_cast<int64_t>(pattern.size()) - 1;
  for (int64_t off = from; off < size_; off += k_window_bytes) {
    auto w = read_at(off, k_window_bytes + overlap);
    if (!w) return w.err();
    const size_t i = w->find(pattern);
    if (i != std::string::npos) return off + static_cast<int64_t>(i);
  }
  return int64_t{-1};
}

base::result<void> spooled_body::copy_to_file(int64_t off, int64_t n, int out_fd) const {
  for (int64_t done = 0; done < n; done += k_window_bytes) {
    auto w = read_at(off + done, std::min(k_window_bytes, n - done));
    if (!w) return w.err();
    if (!write_all(out_fd, w->data(), w->size())) return sys_error("upload file write");
  }
  return {};
}

/* The walk of parse_multipart (multipart.cpp), over the file: a delimiter, padding and CRLF,
 * the part's headers (at most k_multipart_max_part_headers bytes, read in one window), its
 * content up to the next "\r\n--boundary", and so on to "--boundary--". */
base::result<spooled_parts> spooled_body::parse(std::string_view content_type, const spool_policy& p) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary.ok()) return boundary.err();
  const std::string delim = "--" + *boundary, next = "\r\n" + delim;
  const auto bad = [](const char* why) { return base::make_error(errc::invalid_argument, why); };
  int64_t pos;
  auto head = read_at(0, static_cast<int64_t>(delim.size()));
  if (!head) return head.err();
  if (*head == delim) {
    pos = 0;
  } else {
    auto f = find(next, 0);
    if (!f) return f.err();
    if (*f < 0) return bad("multipart: no delimiter");
    pos = *f + 2;
  }
  spooled_parts out;
  size_t n_parts = 0;
  int64_t in_memory = 0;
  for (;;) {
    int64_t at = pos + static_cast<int64_t>(delim.size());
    auto after = read_at(at, 2 + 256);  // "--", or padding and CRLF
    if (!after) return after.err();
    if (after->compare(0, 2, "--") == 0) {
      if (n_parts == 0) return bad("multipart: no part before the final delimiter");
      return out;
    }
    size_t skip = 0;
    while (skip < after->size() && ((*after)[skip] == ' ' || (*after)[skip] == '\t')) ++skip;
    if (after->compare(skip, 2, "\r\n") != 0)
      return bad(at + static_cast<int64_t>(skip) >= size_ ? "multipart: no final delimiter"
                                                          : "multipart: junk after a delimiter");
    at += static_cast<int64_t>(skip) + 2;
    if (n_parts == k_multipart_max_parts)
      return base::make_error(errc::invalid_argument,
                              "multipart: more than " + std::to_string(k_multipart_max_parts) + " parts");
    ++n_parts;
    form_part part;
    int64_t content_at;
    auto window = read_at(at, static_cast<int64_t>(k_multipart_max_part_headers) + 4);
    if (!window) return window.err();
    if (window->compare(0, 2, "\r\n") == 0) {
      content_at = at + 2;
      if (auto h = parse_part_headers({}, &part); !h.ok()) return h.err();
    } else {
      const size_t end = window->find("\r\n\r\n");
      if (end == std::string::npos)
        return bad(window->size() > k_multipart_max_part_headers ? "multipart: a part's headers are too long"
                                                                 : "multipart: a part's headers are truncated");
      if (end > k_multipart_max_part_headers) return bad("multipart: a part's headers are too long");
      if (auto h = parse_part_headers(std::string_view(*window).substr(0, end), &part); !h.ok()) return h.err();
      content_at = at + static_cast<int64_t>(end) + 4;
    }
    auto end = find(next, content_at);
    if (!end) return end.err();
    if (*end < 0) return bad("multipart: no final delimiter");
    const int64_t n = *end - content_at;
    if (part.name == p.file_field) {
      if (!out.file_path.empty())
        return base::make_error(errc::invalid_argument, "multipart: part '" + p.file_field + "' given twice");
      std::string tmpl = dir_ + "/.upload-XXXXXX";
      std::vector<char> name(tmpl.begin(), tmpl.end());
      name.push_back('\0');
      const int fd = ::mkostemp(name.data(), O_CLOEXEC);
      if (fd < 0) return sys_error("upload file in " + dir_);
      part_path_ = name.data();  // removed by the destructor from here on
      auto c = copy_to_file(content_at, n, fd);
      ::close(fd);
      if (!c) return c.err();
      out.file_path = part_path_;
      out.file_name = part.filename;
    } else {
      const auto lim = p.max_bytes.find(part.name);
      const int64_t max = lim == p.max_bytes.end() ? p.default_max_bytes : lim->second;
      if (n > max)
        return base::make_error(errc::too_large, "multipart: part '" + part.name.substr(0, 64) + "' is over " +
                                                     std::to_string(max) + " bytes");
      if ((in_memory += n) > p.max_total_bytes)
        return base::make_error(errc::too_large, "multipart: the parts other than '" + p.file_field + "' are over " +
                                                     std::to_string(p.max_total_bytes) + " bytes together");
      auto content = read_at(content_at, n);
      if (!content) return content.err();
      part.content = std::move(*content);
      out.parts.emplace(part.name, std::move(part));
    }
    pos = *end + 2;
  }
}

}  // namespace idphoto::server
