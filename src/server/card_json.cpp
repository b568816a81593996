// JSON ↔ card: the card as the API shows it, and the members a create/patch body may set.
#include "server/card_json.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace idphoto::server {

using json = nlohmann::json;

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json card_json(const db::id_card& c) {
  // The framing report is stored as one JSON line; a row it does not parse in shows null.
  const json report = c.photo_report.empty() ? json() : json::parse(c.photo_report, nullptr, false);
  const auto part = [&](const char* k) { return report.is_object() && report.contains(k) ? report[k] : json(); };
  return json{{"id", c.id},
              {"fullName", c.full_name},
              {"idNumber", nullable(c.id_number)},
              {"organization", nullable(c.organization)},
              {"role", nullable(c.role)},
              {"issuedAt", nullable(c.issued_at)},
              {"expiresAt", nullable(c.expires_at)},
              {"rawPhotoUrl", nullable(c.raw_photo_url)},
              {"cleanPhotoUrl", nullable(c.clean_photo_url)},
              {"photoStatus", db::photo_status_name(c.status)},
              {"photoError", nullable(c.photo_error)},
              {"photoErrorAt", nullable(c.photo_error_at)},
              {"photoWarning", nullable(c.photo_warning)},
              {"photoSpec", c.photo_spec},
              {"photoCompliance", part("compliance")},
              {"photoFace", part("face")},
              {"createdAt", c.created_at},
              {"updatedAt", c.updated_at}};
}

base::result<db::id_card_fields> card_fields(const json& b) {
  static const std::vector<std::pair<const char*, std::optional<std::string> db::id_card_fields::*>> keys = {
      {"fullName", &db::id_card_fields::full_name},        {"idNumber", &db::id_card_fields::id_number},
      {"organization", &db::id_card_fields::organization}, {"role", &db::id_card_fields::role},
      {"issuedAt", &db::id_card_fields::issued_at},        {"expiresAt", &db::id_card_fields::expires_at},
      {"photoSpec", &db::id_card_fields::photo_spec}};
  static const std::vector<std::string> read_only = {"id",         "rawPhotoUrl",  "cleanPhotoUrl",   "photoStatus",
                                                     "photoError", "photoWarning", "photoCompliance", "photoFace",
                                                     "createdAt",  "updatedAt"};
  db::id_card_fields f;
  for (const auto& [k, v] : b.items()) {
    bool known = std::find(read_only.begin(), read_only.end(), k) != read_only.end();
    for (const auto& [name, member] : keys) {
      if (k != name) continue;
      known = true;
      if (v.is_null()) f.*member = std::string();
      else if (v.is_string()) f.*member = v.get<std::string>();
      else return base::make_error(base::errc::invalid_argument, "field " + k + " must be a string or null");
    }
    if (!known) return base::make_error(base::errc::invalid_argument, "unknown field '" + k.substr(0, 40) + "'");
  }
  if (f.photo_spec && f.photo_spec->empty()) f.photo_spec = "card";  // null: back to the default
  return f;
}

}  // namespace idphoto::server
