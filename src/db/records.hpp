// Pure helpers of the repository: field validation, ids, timestamps and list cursors.
// No SQL here; both backends and the tests share these.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "db/repository.hpp"

namespace idphoto::db {

inline constexpr size_t max_field_bytes = 200;           // every client-set text field
inline constexpr size_t max_photo_field_bytes = 4096;    // photo URLs, keys, error text
inline constexpr size_t max_photo_report_bytes = 16384;  // the framing report (JSON)

// true when s is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s);

// invalid_argument naming the field when value is over max_bytes, not UTF-8 or has control
// characters.
base::result<void> check_text(const char* field, std::string_view value, size_t max_bytes);

// s made storable as text in both databases (for error texts, which must always be recorded):
// invalid UTF-8 and control characters become '?', cut at a character boundary to max_bytes.
std::string storable_text(std::string_view s, size_t max_bytes);

// true for "YYYY-MM-DD" naming a real Gregorian date, years 0001..9999.
bool is_valid_date(std::string_view s);

// true for 32 lowercase hex chars.
bool is_valid_id(std::string_view s);

// invalid_argument naming the first bad field ("full_name: required", "issued_at: not a date …").
// on_create: full_name must be present; on patch only when set.
base::result<void> validate_fields(const id_card_fields& f, bool on_create);

// invalid_argument naming the bad field (too long, invalid UTF-8, control characters).
base::result<void> validate_photo_update(const photo_update& u);

// The one UPDATE that writes a photo_update (set_photo, and the job repository's writes in a
// job's transaction): "UPDATE id_cards SET ... WHERE id = $1 RETURNING <returning>", and its
// parameters in order.
std::string photo_update_sql(const std::string& returning);
std::vector<std::optional<std::string>> photo_update_params(const std::string& card_id, const photo_update& u,
                                                            const std::string& now);

// 32 lowercase hex chars from 128 bits of getrandom(); internal when the OS refuses.
base::result<std::string> new_card_id();

// Now in UTC, RFC 3339 with milliseconds; strictly increasing within the process.
std::string now_timestamp();
// t in UTC in the same format (not adjusted to be increasing).
std::string timestamp_of(std::chrono::system_clock::time_point t);

// true for "YYYY-MM-DDTHH:MM:SS.mmmZ".
bool is_valid_timestamp(std::string_view s);

// The opaque list cursor: base64url (no padding) of "created_at|id".
std::string encode_cursor(const std::string& created_at, const std::string& id);
// invalid_argument when the text is not a cursor made by encode_cursor.
base::result<std::pair<std::string, std::string>> decode_cursor(std::string_view cursor);

}  // namespace idphoto::db
