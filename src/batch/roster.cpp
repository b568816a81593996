// parse_roster: the CSV parsed, the header mapped to card fields, each row validated by the
// same checks a POST /api/id-cards goes through (db::validate_fields).
#include "batch/roster.hpp"

#include <map>
#include <optional>
#include <set>

#include "batch/csv.hpp"
#include "db/records.hpp"

namespace idphoto::batch {

size_t roster::n_valid() const {
  size_t n = 0;
  for (const auto& r : rows) n += r.valid ? 1 : 0;
  return n;
}

namespace {

enum class column { full_name, id_number, organization, role, issued_at, expires_at, photo };

struct column_name {
  const char* key;  // normalised header text
  column col;
  const char* shown;  // the name in messages (the API's)
};

const column_name known_columns[] = {
    {"fullname", column::full_name, "fullName"},
    {"idnumber", column::id_number, "idNumber"},
    {"organization", column::organization, "organization"},
    {"organisation", column::organization, "organization"},
    {"role", column::role, "role"},
    {"issuedat", column::issued_at, "issuedAt"},
    {"expiresat", column::expires_at, "expiresAt"},
    {"photo", column::photo, "photo"},
};

// Lowercase ASCII, without spaces, '_' and '-'.
std::string normalise(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '_' || c == '-' || c == '\t') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// db's field names in a validation message become the roster's column names.
std::string roster_words(std::string msg) {
  static const std::pair<const char*, const char*> names[] = {
      {"full_name", "fullName"}, {"id_number", "idNumber"}, {"issued_at", "issuedAt"}, {"expires_at", "expiresAt"}};
  for (const auto& [from, to] : names)
    if (msg.rfind(from, 0) == 0) return to + msg.substr(std::string(from).size());
  return msg;
}

// Shown in messages: a header name (client text) kept printable and short.
std::string shown(const std::string& s) { return db::storable_text(s, 60); }

}  // namespace

base::result<roster> parse_roster(std::string_view text, const batch_config& cfg, const roster_options& o) {
  if (static_cast<int64_t>(text.size()) > cfg.max_roster_bytes)
    return base::make_error(base::errc::too_large,
                            "roster: " + std::to_string(text.size()) + " bytes, over the limit of " +
                                std::to_string(cfg.max_roster_bytes) + " (IDPHOTO_MAX_ROSTER_BYTES)");
  auto table = parse_csv(text, cfg.max_rows + 1);
  if (!table) {
    std::string detail = "roster: " + table.err().detail;
    if (table.err().code == base::errc::too_large) detail += " (IDPHOTO_MAX_BATCH_ROWS)";
    return base::make_error(table.err().code, detail);
  }
  roster out;
  out.separator = table->separator;
  const auto& header = table->records.front().fields;
  std::map<size_t, column> columns;  // cell index -> column
  std::set<int> seen;
  std::string header_list;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string name = trim(header[i]);
    header_list += (header_list.empty() ? "" : ", ") + shown(name);
    const std::string key = normalise(name);
    const column_name* known = nullptr;
    for (const auto& k : known_columns)
      if (key == k.key) known = &k;
    if (!known) {
      if (!name.empty()) out.ignored_columns.push_back(shown(name));
      continue;
    }
    if (!seen.insert(static_cast<int>(known->col)).second)
      return base::make_error(base::errc::invalid_argument,
                              std::string("roster: the column ") + known->shown + " is given twice");
    columns[i] = known->col;
  }
  if (!seen.count(static_cast<int>(column::full_name)))
    return base::make_error(base::errc::invalid_argument,
                            "roster: no fullName column (the header row has: " + header_list + "; separator '" +
                                std::string(1, out.separator) + "')");

  std::map<std::pair<std::string, std::string>, int> first_row_of;  // (org, idNumber) -> row
  for (size_t r = 1; r < table->records.size(); ++r) {
    const csv_record& rec = table->records[r];
    roster_row row;
    row.row = static_cast<int>(r);
    row.line = rec.line;
    row.fields.full_name = row.fields.id_number = row.fields.organization = row.fields.role = row.fields.issued_at =
        row.fields.expires_at = std::string();
    const auto problem = [&](const std::string& msg) {
      out.problems.push_back({row.row, db::storable_text(row.fields.id_number.value_or(""), 200), "invalid_row", msg});
    };
    for (const auto& [i, col] : columns) {
      if (i >= rec.fields.size()) continue;
      std::string v = trim(rec.fields[i]);
      switch (col) {
        case column::full_name:
          row.fields.full_name = v;
          break;
        case column::id_number:
          row.fields.id_number = v;
          break;
        case column::organization:
          row.fields.organization = v;
          break;
        case column::role:
          row.fields.role = v;
          break;
        case column::issued_at:
          row.fields.issued_at = v;
          break;
        case column::expires_at:
          row.fields.expires_at = v;
          break;
        case column::photo:
          row.photo = v;
          break;
      }
    }
    if (row.fields.organization->empty()) row.fields.organization = o.default_organization;
    if (rec.fields.size() != header.size()) {
      problem("has " + std::to_string(rec.fields.size()) + " cells, the header has " + std::to_string(header.size()) +
              " (line " + std::to_string(rec.line) + ")");
    } else if (auto v = db::validate_fields(row.fields, true); !v) {
      problem(roster_words(v.err().detail));
    } else if (auto p = db::check_text("photo", row.photo, 1024); !p) {
      problem(p.err().detail);
    } else if (!row.fields.id_number->empty()) {
      auto [it, fresh] = first_row_of.emplace(std::make_pair(*row.fields.organization, *row.fields.id_number), row.row);
      if (!fresh)
        problem("idNumber " + shown(*row.fields.id_number) + " repeats row " + std::to_string(it->second) +
                " of the same organization");
      else row.valid = true;
    } else {
      row.valid = true;
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace idphoto::batch
