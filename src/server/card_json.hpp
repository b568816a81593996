// The card as the API shows it (camelCase JSON), and a create/patch body read into card fields.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "db/repository.hpp"

namespace idphoto::server {

// s, or null when empty.
nlohmann::json nullable(const std::string& s);
// The card's JSON (docs/api.md); a stored framing report that does not parse shows null.
nlohmann::json card_json(const db::id_card& c);
// The fields of a create/patch body; invalid_argument (detail = the public message) on a
// member of a wrong type or an unknown member.
base::result<db::id_card_fields> card_fields(const nlohmann::json& body);

}  // namespace idphoto::server
