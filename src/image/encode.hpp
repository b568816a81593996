// Step 8: encode the finished photo (PNG / JPEG / WebP, metadata stripped) and
// write it to disk atomically, never over an input file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image {

struct encode_options {
  format fmt = format::png;  // png, jpeg or webp
  int quality = 90;          // 1–100, JPEG and WebP (lossy) only; 90 keeps faces clean
};

// Bytes of an 8-bit image (1–4 bands) in the given format; EXIF (GPS, camera),
// XMP and ICC are stripped: the output is untagged sRGB.
// Returns errc::invalid_argument (not 8-bit, alpha with JPEG, quality out of range),
// errc::unsupported (heif/avif/tiff output), errc::internal if the encoder fails.
base::result<std::vector<uint8_t>> encode(const image& im, const encode_options& opts = {});

struct write_options {
  // Paths that must never be replaced (the inputs of this run). Compared by
  // file identity (device+inode, so links are caught) and by normalised path.
  std::vector<std::filesystem::path> protected_paths;
  bool overwrite = true;  // replace an existing file at the destination
  unsigned mode = 0644;   // permission bits of the new file
};

/* Writes to a temporary file in the destination's directory, fsyncs it, renames
 * it over the destination and fsyncs the directory: readers see the old file or
 * the whole new one, never a partial one; the temporary file is removed on every
 * failure path.
 */
// Returns errc::invalid_argument (destination is protected, or exists and
// !overwrite), errc::io (the OS refused: missing directory, permissions, disk full).
base::result<void> write_file_atomic(const std::filesystem::path& dest, std::span<const uint8_t> bytes,
                                     const write_options& opts = {});

}  // namespace idphoto::image
