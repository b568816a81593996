// open_zip: a ZIP checked as a whole (names, counts, declared sizes) and then read entry by
// entry from its file through libzip; nothing is extracted to disk.
#include <zip.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "batch/photo_names.hpp"
#include "batch/photo_source.hpp"
#include "batch/zip_names.hpp"
#include "db/records.hpp"

namespace idphoto::batch {

namespace {

struct zip_discarder {
  void operator()(zip_t* z) const { zip_discard(z); }  // read-only: never writes back
};
using zip_ptr = std::unique_ptr<zip_t, zip_discarder>;

struct zip_file_closer {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using zip_file_ptr = std::unique_ptr<zip_file_t, zip_file_closer>;

constexpr int64_t ratio_exempt_below_bytes = 64 * 1024;

std::string shown(const std::string& name) { return "\"" + db::storable_text(name, 120) + "\""; }

base::error refuse(const std::string& name, const std::string& why) {
  return base::make_error(base::errc::invalid_argument, "zip: entry " + shown(name) + " " + why);
}

/* An entry name may only name a file below the archive root: not absolute ("/x", "\x",
 * "C:x"), no ".." component (with '/' or '\' as the separator: Windows tools write both),
 * no NUL. These are refused for the whole archive even though nothing is extracted to disk:
 * an archive that carries them was made to attack an extractor. */
base::result<void> check_name(const std::string& raw) {
  if (raw.empty()) return refuse(raw, "has an empty name");
  if (raw.find('\0') != std::string::npos) return refuse(raw, "has a NUL byte in its name");
  if (raw[0] == '/' || raw[0] == '\\') return refuse(raw, "has an absolute path");
  if (raw.size() >= 2 && raw[1] == ':' && std::isalpha(static_cast<unsigned char>(raw[0])))
    return refuse(raw, "has a drive letter");
  size_t start = 0;
  while (start <= raw.size()) {
    size_t sep = raw.find_first_of("/\\", start);
    if (sep == std::string::npos) sep = raw.size();
    if (raw.compare(start, sep - start, "..") == 0) return refuse(raw, "climbs out of the archive (\"..\")");
    start = sep + 1;
  }
  return {};
}

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

class zip_source final : public photo_source {
 public:
  zip_source(zip_ptr z, std::vector<photo_entry> entries, std::vector<zip_uint64_t> index, int64_t budget)
      : z_(std::move(z)), entries_(std::move(entries)), index_(std::move(index)), budget_(budget) {}

  const std::vector<photo_entry>& entries() const override { return entries_; }

  /* Inflates in 64 KiB steps and stops at the first byte past any limit: the caller's
   * max_bytes, the entry's declared size (a header that lies), or what is left of the
   * archive's total budget. So no entry ever costs more memory than max_bytes + one step,
   * whatever its header claims. libzip checks the CRC when the entry ends. */
  base::result<std::vector<uint8_t>> read(size_t i, int64_t max_bytes) override {
    if (i >= entries_.size())
      return base::make_error(base::errc::invalid_argument, "zip: no entry " + std::to_string(i));
    const photo_entry& e = entries_[i];
    if (e.size_bytes > max_bytes)
      return base::make_error(base::errc::too_large, "entry " + shown(e.name) + " is " + std::to_string(e.size_bytes) +
                                                         " bytes, over the limit of " + std::to_string(max_bytes));
    zip_file_ptr f(zip_fopen_index(z_.get(), index_[i], 0));
    if (!f) return base::make_error(base::errc::corrupt, "entry " + shown(e.name) + ": " + zip_strerror(z_.get()));
    std::vector<uint8_t> out;
    out.reserve(static_cast<size_t>(std::max<int64_t>(0, std::min(e.size_bytes, max_bytes))));
    uint8_t buf[65536];
    for (;;) {
      const zip_int64_t n = zip_fread(f.get(), buf, sizeof buf);
      if (n < 0)
        return base::make_error(base::errc::corrupt, "entry " + shown(e.name) + ": " + zip_file_strerror(f.get()));
      if (n == 0) break;
      out.insert(out.end(), buf, buf + n);
      const int64_t got = static_cast<int64_t>(out.size());
      if (got > e.size_bytes)
        return base::make_error(base::errc::corrupt,
                                "entry " + shown(e.name) + " inflates to more than its header says");
      if (got > max_bytes)
        return base::make_error(base::errc::too_large, "entry " + shown(e.name) + " is over the limit of " +
                                                           std::to_string(max_bytes) + " bytes");
      if (inflated_ + got > budget_)
        return base::make_error(base::errc::too_large, "zip: more than " + std::to_string(budget_) +
                                                           " bytes uncompressed (IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES)");
    }
    if (static_cast<int64_t>(out.size()) != e.size_bytes)
      return base::make_error(base::errc::corrupt, "entry " + shown(e.name) + " is shorter than its header says");
    inflated_ += static_cast<int64_t>(out.size());
    return out;
  }

 private:
  zip_ptr z_;
  std::vector<photo_entry> entries_;
  std::vector<zip_uint64_t> index_;
  int64_t budget_;
  int64_t inflated_ = 0;
};

}  // namespace

base::result<std::unique_ptr<photo_source>> open_zip(const std::string& path, const batch_config& cfg) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return base::make_error(base::errc::not_found, "zip: no such file " + path);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return base::make_error(base::errc::io, "zip: " + ec.message());
  if (static_cast<int64_t>(size) > cfg.max_batch_bytes)
    return base::make_error(base::errc::too_large, "zip: " + std::to_string(size) + " bytes, over the limit of " +
                                                       std::to_string(cfg.max_batch_bytes) +
                                                       " (IDPHOTO_MAX_BATCH_BYTES)");
  auto raw = zip_raw_names(path, cfg.max_zip_entries);
  if (!raw) return raw.err();
  for (const auto& name : *raw) IDPHOTO_TRY(check_name(name));

  int err = 0;
  zip_ptr z(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!z) return base::make_error(base::errc::corrupt, "zip: " + zip_error_text(err));
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  if (n < 0 || static_cast<size_t>(n) != raw->size())
    return base::make_error(base::errc::corrupt, "zip: libzip and the central directory disagree on the entry count");

  struct item {
    photo_entry e;
    zip_uint64_t index;
  };
  std::vector<item> items;
  int64_t declared = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW, &st) != 0)
      return base::make_error(base::errc::corrupt, std::string("zip: ") + zip_strerror(z.get()));
    const std::string name = (*raw)[static_cast<size_t>(i)];
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      return base::make_error(base::errc::unsupported, "zip: entry " + shown(name) + " is encrypted");
    if ((st.valid & ZIP_STAT_COMP_METHOD) && !zip_compression_method_supported(st.comp_method, 0))
      return base::make_error(base::errc::unsupported,
                              "zip: entry " + shown(name) + " uses a compression method we do not read");
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
      return base::make_error(base::errc::corrupt, "zip: entry " + shown(name) + " has no sizes");
    const auto usize = static_cast<int64_t>(std::min<zip_uint64_t>(st.size, INT64_MAX / 2));
    const auto csize = static_cast<int64_t>(std::min<zip_uint64_t>(st.comp_size, INT64_MAX / 2));
    if (usize >= ratio_exempt_below_bytes && usize / std::max<int64_t>(csize, 1) >= cfg.max_zip_ratio)
      return base::make_error(base::errc::too_large,
                              "zip: entry " + shown(name) + " inflates " + std::to_string(usize) + " bytes from " +
                                  std::to_string(csize) + ", a compression ratio over " +
                                  std::to_string(cfg.max_zip_ratio) + " (a zip bomb? IDPHOTO_MAX_ZIP_RATIO)");
    declared += usize;
    if (declared > cfg.max_unzipped_bytes)
      return base::make_error(base::errc::too_large, "zip: entries declare more than " +
                                                         std::to_string(cfg.max_unzipped_bytes) +
                                                         " bytes uncompressed (IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES)");
    if (is_left_out(name)) continue;
    items.push_back({{name, usize}, static_cast<zip_uint64_t>(i)});
  }
  std::sort(items.begin(), items.end(), [](const item& a, const item& b) { return a.e.name < b.e.name; });
  std::vector<photo_entry> entries;
  std::vector<zip_uint64_t> index;
  for (auto& it : items) {
    entries.push_back(std::move(it.e));
    index.push_back(it.index);
  }
  return std::unique_ptr<photo_source>(
      std::make_unique<zip_source>(std::move(z), std::move(entries), std::move(index), cfg.max_unzipped_bytes));
}

}  // namespace idphoto::batch
