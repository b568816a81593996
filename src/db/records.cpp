// Field validation, card ids, timestamps and list cursors for the repository.
// Everything a client can send passes through validate_fields before any SQL sees it.
#include "db/records.hpp"

#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace idphoto::db {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses n decimal digits at s[pos..]; -1 when any is not a digit.
int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (pos + i >= s.size() || !is_digit(s[pos + i])) return -1;
    v = v * 10 + (s[pos + i] - '0');
  }
  return v;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

base::result<void> check_text(const char* field, std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes)
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": longer than " +
                                                              std::to_string(max_bytes) + " bytes (" +
                                                              std::to_string(value.size()) + ")");
  if (!is_valid_utf8(value))
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": not valid UTF-8");
  if (has_control_chars(value))
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": contains control characters");
  return {};
}

/* Bytes that form a valid UTF-8 sequence are kept; every other byte, and every control
 * character, becomes '?'. The result is cut at a character boundary so it fits max_bytes. */
std::string storable_text(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    std::string_view piece = n && i + n <= s.size() ? s.substr(i, n) : std::string_view();
    if (piece.empty() || !is_valid_utf8(piece) || (n == 1 && (c < 0x20 || c == 0x7f))) {
      piece = "?";
      n = 1;
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n;
  }
  return out;
}

namespace {

base::result<void> check_date(const char* field, const std::optional<std::string>& v) {
  if (!v || v->empty()) return {};
  if (!is_valid_date(*v))
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": not a date (want YYYY-MM-DD)");
  return {};
}

const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

/* UTF-8 check after RFC 3629 table 3-7: the lead byte fixes the sequence length and the
 * allowed range of the second byte (that range is what excludes overlong forms, UTF-16
 * surrogates D800..DFFF and code points above U+10FFFF); every later byte is 80..BF. */
bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (i + len > n) return false;
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      const unsigned char ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xbf) return false;
    }
    i += len;
  }
  return true;
}

bool is_valid_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  const int y = digits(s, 0, 4), m = digits(s, 5, 2), d = digits(s, 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  return d <= days_in_month(y, m);
}

bool is_valid_id(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

bool is_valid_timestamp(std::string_view s) {
  // 2026-11-29T11:43:10.123Z
  if (s.size() != 24 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z') return false;
  if (!is_valid_date(s.substr(0, 10))) return false;
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2), ms = digits(s, 20, 3);
  return h >= 0 && h < 24 && mi >= 0 && mi < 60 && sec >= 0 && sec < 60 && ms >= 0;
}

base::result<void> validate_fields(const id_card_fields& f, bool on_create) {
  if (on_create && !f.full_name) return base::make_error(base::errc::invalid_argument, "full_name: required");
  if (f.full_name) {
    if (f.full_name->find_first_not_of(" \t") == std::string::npos)
      return base::make_error(base::errc::invalid_argument, "full_name: required (empty)");
    IDPHOTO_TRY(check_text("full_name", *f.full_name, max_field_bytes));
  }
  const std::pair<const char*, const std::optional<std::string>*> texts[] = {
      {"id_number", &f.id_number}, {"organization", &f.organization}, {"role", &f.role},
      {"issued_at", &f.issued_at}, {"expires_at", &f.expires_at},     {"photo_spec", &f.photo_spec}};
  for (const auto& [name, value] : texts)
    if (*value) IDPHOTO_TRY(check_text(name, **value, max_field_bytes));
  IDPHOTO_TRY(check_date("issued_at", f.issued_at));
  IDPHOTO_TRY(check_date("expires_at", f.expires_at));
  return {};
}

base::result<void> validate_photo_update(const photo_update& u) {
  const std::pair<const char*, const std::string*> texts[] = {
      {"raw_photo_url", &u.raw_photo_url},     {"raw_photo_key", &u.raw_photo_key},
      {"clean_photo_url", &u.clean_photo_url}, {"clean_photo_key", &u.clean_photo_key},
      {"photo_error", &u.photo_error},         {"photo_warning", &u.photo_warning}};
  for (const auto& [name, value] : texts) IDPHOTO_TRY(check_text(name, *value, max_photo_field_bytes));
  IDPHOTO_TRY(check_text("photo_report", u.photo_report, max_photo_report_bytes));
  if (u.photo_spec) IDPHOTO_TRY(check_text("photo_spec", *u.photo_spec, max_field_bytes));
  return {};
}

std::string photo_update_sql(const std::string& returning) {
  // raw_photo_at: kept while the raw photo stays the same, now ($9) for a new one, "" for none
  // (the right-hand sides read the row as it was before the UPDATE, in both databases).
  return "UPDATE id_cards SET raw_photo_url = $2, raw_photo_key = $3, "
         "raw_photo_at = CASE WHEN raw_photo_key = $3 THEN raw_photo_at WHEN $3 = '' THEN '' ELSE $9 END, "
         "clean_photo_url = $4, "
         "clean_photo_key = $5, status = $6, photo_error = $7, photo_warning = $8, updated_at = $9, "
         "photo_report = $10, photo_spec = COALESCE($11, photo_spec), photo_error_at = $12 WHERE id = $1 RETURNING " +
         returning;
}

std::vector<std::optional<std::string>> photo_update_params(const std::string& card_id, const photo_update& u,
                                                            const std::string& now) {
  return {card_id,           u.raw_photo_url,   u.raw_photo_key,
          u.clean_photo_url, u.clean_photo_key, std::string(photo_status_name(u.status)),
          u.photo_error,     u.photo_warning,   now,
          u.photo_report,    u.photo_spec,      u.photo_error.empty() ? std::string() : now};
}

base::result<std::string> new_card_id() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t r = getrandom(bytes + got, sizeof bytes - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return base::make_error(base::errc::internal, std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(r);
  }
  static const char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    id[2 * i] = hex[bytes[i] >> 4];
    id[2 * i + 1] = hex[bytes[i] & 15];
  }
  return id;
}

/* Timestamps have millisecond resolution (the contract's format), so two cards created in
 * the same millisecond would tie and "newest first" would fall back to the random id. The
 * clock below never returns the same or an earlier millisecond twice in one process: it
 * takes max(wall clock, last + 1). Under a burst of more than 1000 writes a second the
 * stamps run slightly ahead of the wall clock and catch up when the burst ends. Across
 * processes ties remain possible; the id then orders them, still a total order. */
std::string now_timestamp() {
  static std::atomic<int64_t> last_ms{0};
  const int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int64_t prev = last_ms.load();
  int64_t next = 0;
  do {
    next = wall_ms > prev ? wall_ms : prev + 1;
  } while (!last_ms.compare_exchange_weak(prev, next));
  return timestamp_of(std::chrono::system_clock::time_point(std::chrono::milliseconds(next)));
}

std::string timestamp_of(std::chrono::system_clock::time_point t) {
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  if (ms < 0) ms = 0;  // before 1970: the format has no sign, and no card is that old
  const time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string encode_cursor(const std::string& created_at, const std::string& id) {
  const std::string in = created_at + "|" + id;
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
    out += b64url[(v >> 6) & 63];
    out += b64url[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
    out += b64url[(v >> 6) & 63];
  }
  return out;
}

base::result<std::pair<std::string, std::string>> decode_cursor(std::string_view cursor) {
  const auto bad = [] { return base::make_error(base::errc::invalid_argument, "cursor: malformed"); };
  if (cursor.empty() || cursor.size() > 128 || cursor.size() % 4 == 1) return bad();
  std::string raw;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : cursor) {
    const int v = b64url_value(c);
    if (v < 0) return bad();
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw += char((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad();  // non-canonical tail bits
  const size_t bar = raw.find('|');
  if (bar == std::string::npos) return bad();
  std::string created_at = raw.substr(0, bar), id = raw.substr(bar + 1);
  if (!is_valid_timestamp(created_at) || !is_valid_id(id)) return bad();
  return std::make_pair(std::move(created_at), std::move(id));
}

}  // namespace idphoto::db
