// match_photos: lookup tables from lowercase stem, base name and path to entries.
#include "batch/match.hpp"

#include <map>

#include "batch/photo_names.hpp"
#include "db/records.hpp"

namespace idphoto::batch {

photo_match match_photos(const roster& r, const std::vector<photo_entry>& entries) {
  std::map<std::string, std::vector<size_t>> by_stem, by_base, by_path;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& name = entries[i].name;
    by_path[ascii_lower(name)].push_back(i);
    by_base[ascii_lower(base_name(name))].push_back(i);
    if (is_photo_name(name)) by_stem[ascii_lower(stem_of(name))].push_back(i);
  }
  photo_match out;
  out.entry_of_row.resize(r.rows.size());
  std::vector<bool> used(entries.size(), false);
  const auto lookup = [](const std::map<std::string, std::vector<size_t>>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? std::vector<size_t>() : it->second;
  };
  for (size_t k = 0; k < r.rows.size(); ++k) {
    const roster_row& row = r.rows[k];
    if (!row.valid) continue;
    const std::string id = row.fields.id_number.value_or("");
    std::vector<size_t> found;
    std::string wanted;
    if (!row.photo.empty()) {
      wanted = "the file " + db::storable_text(row.photo, 120) + " named in the photo column";
      found = lookup(by_path, ascii_lower(row.photo));
      if (found.empty()) found = lookup(by_base, ascii_lower(base_name(row.photo)));
    } else if (!id.empty()) {
      wanted = "a photo named " + db::storable_text(id, 120) + ".jpg (or .png, .webp, .heic, .tif)";
      found = lookup(by_stem, ascii_lower(id));
    } else {
      wanted = "a photo: the row has neither an idNumber nor a photo column";
    }
    if (found.empty()) {
      out.problems.push_back({row.row, id, "no_photo", "no photo found: want " + wanted});
      continue;
    }
    // Entries are sorted by name, and the tables were filled in that order.
    out.entry_of_row[k] = found.front();
    for (size_t i : found) used[i] = true;
    if (found.size() > 1) {
      std::string names;
      for (size_t i : found) names += (names.empty() ? "" : ", ") + db::storable_text(entries[i].name, 120);
      out.problems.push_back({row.row, id, "duplicate_photo",
                              std::to_string(found.size()) + " photos match (" + names + "); " +
                                  db::storable_text(entries[found.front()].name, 120) + " is used"});
    }
  }
  for (size_t i = 0; i < entries.size(); ++i)
    if (!used[i]) out.unmatched.push_back(i);
  return out;
}

}  // namespace idphoto::batch
