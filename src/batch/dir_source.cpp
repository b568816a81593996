// open_photo_dir: the regular files of one folder as a photo source (idphoto batch photos/).
#include <algorithm>
#include <filesystem>

#include "base/read_file.hpp"
#include "batch/photo_names.hpp"
#include "batch/photo_source.hpp"

namespace idphoto::batch {

namespace {

namespace fs = std::filesystem;

class dir_source final : public photo_source {
 public:
  dir_source(fs::path dir, std::vector<photo_entry> entries) : dir_(std::move(dir)), entries_(std::move(entries)) {}
  const std::vector<photo_entry>& entries() const override { return entries_; }
  base::result<std::vector<uint8_t>> read(size_t i, int64_t max_bytes) override {
    if (i >= entries_.size()) return base::make_error(base::errc::invalid_argument, "no entry " + std::to_string(i));
    auto bytes = base::read_file((dir_ / entries_[i].name).string(), max_bytes);
    if (!bytes) return base::make_error(bytes.err().code, entries_[i].name + ": " + bytes.err().detail);
    return bytes;
  }

 private:
  fs::path dir_;
  std::vector<photo_entry> entries_;
};

}  // namespace

base::result<std::unique_ptr<photo_source>> open_photo_dir(const std::string& dir, const batch_config& cfg) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return base::make_error(base::errc::not_found, "no such folder " + dir);
  std::vector<photo_entry> entries;
  fs::directory_iterator it(dir, ec);
  if (ec) return base::make_error(base::errc::io, "cannot list " + dir + ": " + ec.message());
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    if (is_left_out(name) || !e.is_regular_file(ec)) continue;
    if (static_cast<int64_t>(entries.size()) >= cfg.max_zip_entries)
      return base::make_error(base::errc::too_large, dir + ": more than " + std::to_string(cfg.max_zip_entries) +
                                                         " files (IDPHOTO_MAX_ZIP_ENTRIES)");
    const auto size = e.file_size(ec);
    entries.push_back({name, ec ? 0 : static_cast<int64_t>(size)});
  }
  std::sort(entries.begin(), entries.end(), [](const photo_entry& a, const photo_entry& b) { return a.name < b.name; });
  return std::unique_ptr<photo_source>(std::make_unique<dir_source>(fs::path(dir), std::move(entries)));
}

}  // namespace idphoto::batch
