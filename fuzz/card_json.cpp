// Fuzz target card_json: a POST/PATCH /api/id-cards body as the server reads it: the strict
// JSON parse (a member name twice is refused), an object only, its members into card fields,
// then the card validation both create and patch run before any SQL.
// Invariants: the strict parser accepts nothing plain nlohmann refuses, and what it accepts
// dumps to text that parses strictly again to the same dump.
#include <string>

#include <nlohmann/json.hpp>

#include "db/records.hpp"
#include "fuzz_target.hpp"
#include "server/card_json.hpp"
#include "server/strict_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto;
  const std::string_view text = fuzz::as_text(data, size);
  auto doc = server::parse_strict_json(text);
  if (!doc) return 0;
  FUZZ_CHECK(!nlohmann::json::parse(text, nullptr, false).is_discarded());
  const std::string dumped = doc->dump();  // a number out of double's range dumps as null
  auto again = server::parse_strict_json(dumped);
  FUZZ_CHECK(again && again->dump() == dumped);
  if (!doc->is_object()) return 0;  // json_body: 400

  auto fields = server::card_fields(*doc);
  if (!fields.ok()) {
    FUZZ_CHECK(fields.err().code == base::errc::invalid_argument);
    return 0;
  }
  (void)db::validate_fields(*fields, true);
  (void)db::validate_fields(*fields, false);
  return 0;
}
