// Fuzz target batch_zip: a photo ZIP as `idphoto batch` and POST /api/batches read it (from a
// file): zip_raw_names (our own walk of the central directory), then open_zip (sizes, entry
// count, names, encryption, declared ratios, through libzip) and every entry read under a cap
// (the bytes really inflated are counted). Limits are small so each limit path is reachable.
// Invariants: entries are sorted by name, no folders, never more than the entry limit;
// an entry read is never over the cap or its declared size.
#include <algorithm>
#include <string>

#include "batch/batch_config.hpp"
#include "batch/photo_source.hpp"
#include "batch/zip_names.hpp"
#include "fuzz_target.hpp"
#include "temp_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto;
  static fuzz::temp_file file(".zip");
  const std::string& path = file.write(data, size);

  batch::batch_config cfg;
  cfg.max_zip_entries = 32;
  cfg.max_unzipped_bytes = 4 << 20;
  cfg.max_zip_ratio = 100;
  constexpr int64_t k_max_entry_bytes = 1 << 20;

  auto names = batch::zip_raw_names(path, cfg.max_zip_entries);
  if (names.ok()) FUZZ_CHECK(static_cast<int64_t>(names->size()) <= cfg.max_zip_entries);

  auto zip = batch::open_zip(path, cfg);
  if (!zip.ok()) return 0;
  const auto& entries = (*zip)->entries();
  FUZZ_CHECK(static_cast<int64_t>(entries.size()) <= cfg.max_zip_entries);
  FUZZ_CHECK(
      std::is_sorted(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; }));
  for (size_t i = 0; i < entries.size(); ++i) {
    FUZZ_CHECK(!entries[i].name.empty() && entries[i].name.back() != '/');
    auto bytes = (*zip)->read(i, k_max_entry_bytes);
    if (!bytes.ok()) continue;
    FUZZ_CHECK(static_cast<int64_t>(bytes->size()) <= k_max_entry_bytes);
    FUZZ_CHECK(static_cast<int64_t>(bytes->size()) <= entries[i].size_bytes);
  }
  FUZZ_CHECK(!(*zip)->read(entries.size(), k_max_entry_bytes).ok());
  return 0;
}
