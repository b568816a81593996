// A request body spooled to a temporary file instead of memory (POST /api/batches: a roster
// and a ZIP of photos, up to IDPHOTO_MAX_BATCH_BYTES), and its multipart/form-data parts read
// from the file a window at a time: small parts into memory (each under its own limit), the
// one file part copied to a temporary file of its own, so the body is never whole in memory.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "server/multipart.hpp"

namespace idphoto::server {

// How the parts of a spooled body are taken.
struct spool_policy {
  std::string file_field;                    // this part goes to its own temp file ("photos")
  std::map<std::string, int64_t> max_bytes;  // the in-memory parts with a limit of their own
  int64_t default_max_bytes = 64 * 1024;     // any other part
  int64_t max_total_bytes = 10 << 20;        // all the in-memory parts together
};

// The parts of a spooled body.
struct spooled_parts {
  std::multimap<std::string, form_part> parts;  // every part but the file part, content read
  std::string file_path;                        // the file part's temp file, "" when there was none
  std::string file_name;                        // its filename parameter
};

class spooled_body {
 public:
  /* A body file in dir: created with mkstemp and unlinked at once, so it is gone whatever
   * happens to the request or the process (only the descriptor holds it). io when dir is not
   * writable. */
  static base::result<std::unique_ptr<spooled_body>> create(const std::string& dir);
  // Closes the body and removes the file part's temp file.
  ~spooled_body();
  spooled_body(const spooled_body&) = delete;
  spooled_body& operator=(const spooled_body&) = delete;

  // Appends n bytes; io when the disk refuses (full).
  base::result<void> append(const char* data, size_t n);
  int64_t size() const { return size_; }

  /* The parts, as parse_multipart reads them (the same rules and messages: invalid_argument for
   * a malformed body), plus too_large naming the part when one is over its limit, and
   * invalid_argument for a second file part. The file part is written to a temp file beside
   * the body ("<dir>/.upload-XXXXXX"), removed by the destructor. io when the disk fails. */
  base::result<spooled_parts> parse(std::string_view content_type, const spool_policy& p);

 private:
  spooled_body() = default;
  base::result<std::string> read_at(int64_t off, int64_t n) const;
  // The offset of pattern at or after from, or -1.
  base::result<int64_t> find(std::string_view pattern, int64_t from) const;
  base::result<void> copy_to_file(int64_t off, int64_t n, int out_fd) const;

  std::string dir_;
  int fd_ = -1;
  int64_t size_ = 0;
  std::string part_path_;  // the file part's temp file, removed by the destructor
};

}  // namespace idphoto::server
