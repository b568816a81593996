// Where a batch's photos come from: a ZIP (read entry by entry from its file, through
// libzip) or a folder. Both list their files first and read one at a time on demand.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "batch/batch_config.hpp"

namespace idphoto::batch {

struct photo_entry {
  std::string name;        // path inside the archive ("photos/R1.jpg") or the file name
  int64_t size_bytes = 0;  // as the archive's directory or the file system says
};

class photo_source {
 public:
  virtual ~photo_source() = default;
  // The files, sorted by name (bytewise). Folders, hidden files (".x") and macOS resource
  // forks ("__MACOSX/", "._x") are left out.
  virtual const std::vector<photo_entry>& entries() const = 0;
  // The bytes of entries()[i]: too_large over max_bytes or over what is left of the archive's
  // total uncompressed limit, corrupt (CRC mismatch, truncated, larger than its header says),
  // io, invalid_argument (no such index).
  virtual base::result<std::vector<uint8_t>> read(size_t i, int64_t max_bytes) = 0;
};

/* A ZIP file, checked as a whole before anything is read: its size (max_batch_bytes), entry
 * count (max_zip_entries), every entry name (no "..", no absolute or drive path, no NUL,
 * no backslash tricks: the whole archive is refused with invalid_argument naming the entry),
 * encryption (unsupported), and the declared sizes (the sum over max_unzipped_bytes, or one
 * entry's ratio over max_zip_ratio: too_large, a zip bomb). Reading counts the bytes really
 * inflated, so a header that lies about sizes is caught too.
 * not_found, io, corrupt (not a ZIP, truncated) besides. */
base::result<std::unique_ptr<photo_source>> open_zip(const std::string& path, const batch_config& cfg);

// The regular files of a folder (not its subfolders). not_found / io when it cannot be listed,
// too_large over max_zip_entries files.
base::result<std::unique_ptr<photo_source>> open_photo_dir(const std::string& dir, const batch_config& cfg);

// true for a name whose extension (any case) is one of the image formats idphoto reads:
// jpg, jpeg, png, webp, heic, heif, tif, tiff.
bool is_photo_name(const std::string& name);

}  // namespace idphoto::batch
