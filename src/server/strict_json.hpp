// strict_json: JSON from a client (request bodies, JWT headers and claims), parsed so that a
// member name given twice is refused instead of "last one wins" — two parsers reading one
// document differently is how a claim or a field gets smuggled past a check.
#pragma once
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace idphoto::server {

// The document, or nullopt when text is not JSON or any object in it repeats a member name.
std::optional<nlohmann::json> parse_strict_json(std::string_view text);

}  // namespace idphoto::server
