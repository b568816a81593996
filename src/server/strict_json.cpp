// parse_strict_json: nlohmann's parser with a callback that keeps the member names of each
// open object and stops at the first repeat.
#include "server/strict_json.hpp"

#include <set>
#include <string>
#include <vector>

namespace idphoto::server {

using json = nlohmann::json;

std::optional<json> parse_strict_json(std::string_view text) {
  std::vector<std::set<std::string>> open;  // the names seen in each object being parsed
  bool repeated = false;
  const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() && !open.back().insert(parsed.get<std::string>()).second)
          repeated = true;
        break;
      default:
        break;
    }
    return true;
  };
  json doc = json::parse(text, check, false);
  if (repeated || doc.is_discarded()) return std::nullopt;
  return doc;
}

}  // namespace idphoto::server
