// The repository of ID-card records: one interface, two backends (SQLite by default,
// PostgreSQL when DATABASE_URL=postgres://…), one conformance suite for both.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::db {

enum class photo_status { none, processing, clean, failed };
const char* photo_status_name(photo_status s);                        // "none", "processing", …
std::optional<photo_status> photo_status_from(const std::string& s);  // nullopt when unknown

struct id_card {
  std::string id;         // 32 lowercase hex chars (128 random bits), set by create
  std::string full_name;  // required, 1..200 UTF-8 bytes
  std::string id_number;  // the rest: optional, "" when unset, ≤ 200 bytes each
  std::string organization;
  std::string role;
  std::string issued_at;        // "YYYY-MM-DD" or ""
  std::string expires_at;       // "YYYY-MM-DD" or ""
  std::string raw_photo_url;    // public URL of the raw photo the client sent, or ""
  std::string raw_photo_key;    // the blob store's key of that photo (internal), or ""
  std::string raw_photo_at;     // when that photo was recorded (as created_at), "" when there is none
  std::string clean_photo_url;  // public URL of the cleaned photo, or ""
  std::string clean_photo_key;  // the blob store's key of that photo (internal), or ""
  photo_status status = photo_status::none;
  std::string photo_error;          // why the last photo attempt failed (public text), "" otherwise; with
                                    // status clean, the previous photo was kept
  std::string photo_error_at;       // when that attempt failed (as created_at), "" when photo_error is ""
  std::string photo_warning;        // a doubtful result: "no_person", "mask_empty", "mask_full", or ""
  std::string photo_spec = "card";  // the ID-photo spec the clean photo is framed to ("none" = a plain cut-out)
  std::string photo_report;         // with a framed clean photo: {"spec","dpi","face","compliance"} JSON, else ""
  std::string created_at;           // UTC, RFC 3339 with milliseconds: "2026-11-29T11:43:10.123Z"
  std::string updated_at;
};

// The fields a client may set on create or patch; nullopt = leave as is.
struct id_card_fields {
  std::optional<std::string> full_name, id_number, organization, role, issued_at, expires_at;
  std::optional<std::string> photo_spec;  // checked by the service (a known spec); here only its length
};

// The photo columns written by the clean use case, all at once, in one transaction.
struct photo_update {
  std::string raw_photo_url, raw_photo_key;
  std::string clean_photo_url, clean_photo_key;
  photo_status status = photo_status::none;
  std::string photo_error, photo_warning;
  std::string photo_report;               // "" unless the clean photo was framed
  std::optional<std::string> photo_spec;  // the spec this photo was framed to, when the request chose one
};

// A raw photo the retention sweep may remove: the card and the key it held when listed.
struct raw_photo_ref {
  std::string card_id, raw_photo_key, raw_photo_at;
};

struct page {
  std::vector<id_card> items;
  std::string next_cursor;  // "" when this is the last page
};

// Which cards a query may touch: nullopt = every card; a value = only the cards whose
// organization equals it exactly (a server token's "org" claim). A card outside it is
// not_found, as if it did not exist; lists and their pages hold only the cards inside it.
using org_filter = std::optional<std::string>;

// Every method is safe to call from many threads at once. Every write is one transaction.
class repository {
 public:
  virtual ~repository() = default;
  // invalid_argument when full_name is missing/empty or a field is too long or a date is malformed.
  virtual base::result<id_card> create(const id_card_fields& f) = 0;
  // not_found when no such id (including a malformed id) within org.
  virtual base::result<id_card> get(const std::string& id, const org_filter& org = std::nullopt) = 0;
  // Newest first (created_at desc, id desc); limit 1..100 (invalid_argument otherwise);
  // cursor is "" or a value from next_cursor (invalid_argument when it does not parse).
  // Only cards within org, filtered in the query (pages are full and next_cursor is right).
  virtual base::result<page> list(int limit, const std::string& cursor, const org_filter& org = std::nullopt) = 0;
  // not_found (also outside org); invalid_argument as for create (full_name may not be set to "").
  // The caller checks that f.organization keeps the card within org.
  virtual base::result<id_card> update(const std::string& id, const id_card_fields& f,
                                       const org_filter& org = std::nullopt) = 0;
  // not_found when no such id within org.
  virtual base::result<void> remove(const std::string& id, const org_filter& org = std::nullopt) = 0;
  // Sets every photo column and updated_at; not_found when the card is gone. Not filtered by
  // org: it follows a get that was (the use case holds the card it got).
  virtual base::result<id_card> set_photo(const std::string& id, const photo_update& u) = 0;
  // unavailable when the database cannot be reached.
  virtual base::result<void> ping() = 0;
  // Every blob key referenced by any card (raw and clean), for the orphan sweep and crash tests.
  virtual base::result<std::vector<std::string>> referenced_keys() = 0;
  /* For IDPHOTO_RAW_RETENTION_DAYS: cards whose raw photo was recorded before `before` (a
   * timestamp as created_at) and that have a clean photo (status clean), oldest first, at most
   * limit. invalid_argument for a limit outside 1..1000 or a malformed timestamp. */
  virtual base::result<std::vector<raw_photo_ref>> list_expired_raw(const std::string& before, int limit) = 0;
  /* Forgets the raw photo of card id (raw_photo_url, _key, _at become "", updated_at now) only
   * while the card still holds raw photo `key` and its clean photo: true when cleared, false when
   * the card is gone or holds another photo now (an upload in between keeps its new photo). */
  virtual base::result<bool> clear_raw_photo(const std::string& id, const std::string& key) = 0;
  virtual std::string backend_name() const = 0;  // "sqlite" or "postgresql"
};

// "" → SQLite file "data/idphoto.db"; "sqlite:PATH" or "sqlite://PATH" or a bare path → SQLite;
// "postgres://…" or "postgresql://…" → PostgreSQL (libpq). Applies pending migrations.
// invalid_argument for an unknown scheme; unavailable when the server cannot be reached.
base::result<std::unique_ptr<repository>> open_repository(const std::string& database_url);

// What open_repository did to the schema (for the startup log and the migration tests).
struct open_report {
  int migrations_applied = 0;  // 0 when the schema was already current
  int schema_version = 0;      // the highest version recorded after open
  // What the operator must look at, one line each (the startup log prints them): today the
  // idNumber duplicates that keep migration 11's unique index off (docs/architecture.md).
  std::vector<std::string> warnings;
};
// As above, and fills *report (when not null).
base::result<std::unique_ptr<repository>> open_repository(const std::string& database_url, open_report* report);

}  // namespace idphoto::db
