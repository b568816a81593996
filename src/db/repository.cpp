// The repository written once against the SQL layer (sql.hpp), plus open_repository's
// URL dispatch. Every statement is constant text with $N parameters; every write is a
// single statement (INSERT/UPDATE/DELETE … RETURNING), hence one transaction.
#include "db/repository.hpp"

#include <filesystem>
#include <system_error>

#include "db/migrations.hpp"
#include "db/records.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

const char* photo_status_name(photo_status s) {
  switch (s) {
    case photo_status::none:
      return "none";
    case photo_status::processing:
      return "processing";
    case photo_status::clean:
      return "clean";
    case photo_status::failed:
      return "failed";
  }
  return "none";
}

std::optional<photo_status> photo_status_from(const std::string& s) {
  for (photo_status v : {photo_status::none, photo_status::processing, photo_status::clean, photo_status::failed})
    if (s == photo_status_name(v)) return v;
  return std::nullopt;
}

namespace {

constexpr int postgres_pool_size = 8;

const std::string card_columns =
    "id, full_name, id_number, organization, role, issued_at, expires_at, raw_photo_url, "
    "raw_photo_key, clean_photo_url, clean_photo_key, status, photo_error, photo_warning, "
    "created_at, updated_at, photo_spec, photo_report, photo_error_at, raw_photo_at";
constexpr size_t n_card_columns = 20;

// The card in a row selected with card_columns; corrupt when the row does not fit.
base::result<id_card> card_from_row(const sql_row& r) {
  if (r.size() != n_card_columns) return base::make_error(base::errc::corrupt, "id_cards: unexpected column count");
  for (const auto& v : r)
    if (!v) return base::make_error(base::errc::corrupt, "id_cards: NULL column");
  id_card c;
  c.id = *r[0];
  c.full_name = *r[1];
  c.id_number = *r[2];
  c.organization = *r[3];
  c.role = *r[4];
  c.issued_at = *r[5];
  c.expires_at = *r[6];
  c.raw_photo_url = *r[7];
  c.raw_photo_key = *r[8];
  c.clean_photo_url = *r[9];
  c.clean_photo_key = *r[10];
  auto st = photo_status_from(*r[11]);
  if (!st) return base::make_error(base::errc::corrupt, "id_cards: unknown status " + *r[11]);
  c.status = *st;
  c.photo_error = *r[12];
  c.photo_warning = *r[13];
  c.created_at = *r[14];
  c.updated_at = *r[15];
  c.photo_spec = *r[16];
  c.photo_report = *r[17];
  c.photo_error_at = *r[18];
  c.raw_photo_at = *r[19];
  return c;
}

base::error card_not_found(const std::string& id) {
  // The id is echoed only when it is well-formed (it can be anything a client sent).
  return base::make_error(base::errc::not_found, "id_card " + (is_valid_id(id) ? id : std::string("(malformed id)")));
}

class sql_repository final : public repository {
 public:
  explicit sql_repository(std::shared_ptr<sql_pool> pool) : pool_(std::move(pool)) {}

  base::result<id_card> create(const id_card_fields& f) override {
    IDPHOTO_TRY(validate_fields(f, true));
    auto id = new_card_id();
    if (!id) return id.err();
    const std::string now = now_timestamp();
    const auto text = [](const std::optional<std::string>& v) { return v.value_or(""); };
    return unique_id_number(one_card(false,
                                     "INSERT INTO id_cards (id, full_name, id_number, organization, role, "
                                     "issued_at, expires_at, created_at, updated_at, photo_spec) "
                                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING " +
                                         card_columns,
                                     {*id, *f.full_name, text(f.id_number), text(f.organization), text(f.role),
                                      text(f.issued_at), text(f.expires_at), now, f.photo_spec.value_or("card")},
                                     *id));
  }

  base::result<id_card> get(const std::string& id, const org_filter& org) override {
    if (!is_valid_id(id)) return card_not_found(id);
    if (org)
      return one_card(true, "SELECT " + card_columns + " FROM id_cards WHERE id = $1 AND organization = $2", {id, *org},
                      id);
    return one_card(true, "SELECT " + card_columns + " FROM id_cards WHERE id = $1", {id}, id);
  }

  /* Keyset pagination: the cursor is the (created_at, id) of the last card served, and the
   * next page is the rows strictly below it in (created_at DESC, id DESC) order — a row
   * comparison both databases evaluate with the (created_at, id) index. Unlike OFFSET, pages
   * stay stable while cards are added (new ones sort above every cursor) or removed. One
   * extra row is fetched to know whether a next page exists. With org, the filter is in the
   * WHERE clause, so the LIMIT counts only the org's cards. */
  base::result<page> list(int limit, const std::string& cursor, const org_filter& org) override {
    if (limit < 1 || limit > 100)
      return base::make_error(base::errc::invalid_argument,
                              "limit: must be 1..100 (got " + std::to_string(limit) + ")");
    std::string sql = "SELECT " + card_columns + " FROM id_cards ";
    std::vector<sql_param> params = {std::to_string(limit + 1)};
    if (!cursor.empty()) {
      auto pos = decode_cursor(cursor);
      if (!pos) return pos.err();
      sql += "WHERE (created_at, id) < ($2, $3) ";
      params.emplace_back(pos->first);
      params.emplace_back(pos->second);
    }
    if (org) {
      sql +=
          std::string(cursor.empty() ? "WHERE" : "AND") + " organization = $" + std::to_string(params.size() + 1) + " ";
      params.emplace_back(*org);
    }
    sql += "ORDER BY created_at DESC, id DESC LIMIT CAST($1 AS INTEGER)";
    auto rows = run(true, [&](sql_connection& c) { return c.query(sql, params); });
    if (!rows) return rows.err();
    page out;
    for (const auto& r : *rows) {
      if (out.items.size() == static_cast<size_t>(limit)) {
        const id_card& last = out.items.back();
        out.next_cursor = encode_cursor(last.created_at, last.id);
        break;
      }
      auto card = card_from_row(r);
      if (!card) return card.err();
      out.items.push_back(std::move(*card));
    }
    return out;
  }

  base::result<id_card> update(const std::string& id, const id_card_fields& f, const org_filter& org) override {
    if (!is_valid_id(id)) return card_not_found(id);
    IDPHOTO_TRY(validate_fields(f, false));
    // NULL leaves a column as it is. The org test is on the row as it was.
    const std::string set =
        "UPDATE id_cards SET full_name = COALESCE($2, full_name), "
        "id_number = COALESCE($3, id_number), "
        "organization = COALESCE($4, organization), role = COALESCE($5, role), "
        "issued_at = COALESCE($6, issued_at), expires_at = COALESCE($7, expires_at), "
        "photo_spec = COALESCE($9, photo_spec), "
        "updated_at = $8 WHERE id = $1 ";
    std::vector<sql_param> params = {id,          f.full_name,  f.id_number,     f.organization, f.role,
                                     f.issued_at, f.expires_at, now_timestamp(), f.photo_spec};
    if (!org) return unique_id_number(one_card(false, set + "RETURNING " + card_columns, params, id));
    params.emplace_back(*org);
    return unique_id_number(one_card(false, set + "AND organization = $10 RETURNING " + card_columns, params, id));
  }

  base::result<void> remove(const std::string& id, const org_filter& org) override {
    if (!is_valid_id(id)) return card_not_found(id);
    auto rows = run(false, [&](sql_connection& c) {
      if (org) return c.query("DELETE FROM id_cards WHERE id = $1 AND organization = $2 RETURNING id", {id, *org});
      return c.query("DELETE FROM id_cards WHERE id = $1 RETURNING id", {id});
    });
    if (!rows) return rows.err();
    if (rows->empty()) return card_not_found(id);
    return {};
  }

  base::result<id_card> set_photo(const std::string& id, const photo_update& u) override {
    if (!is_valid_id(id)) return card_not_found(id);
    IDPHOTO_TRY(validate_photo_update(u));
    return one_card(false, photo_update_sql(card_columns), photo_update_params(id, u, now_timestamp()), id);
  }

  base::result<void> ping() override {
    auto rows = run(true, [](sql_connection& c) { return c.query("SELECT 1", {}); });
    if (!rows) {
      auto e = rows.err();
      if (pool_->dialect() == sql_dialect::postgresql) e.code = base::errc::unavailable;
      return e;
    }
    return {};
  }

  base::result<std::vector<std::string>> referenced_keys() override {
    auto rows = run(true, [](sql_connection& c) {
      return c.query(
          "SELECT raw_photo_key FROM id_cards WHERE raw_photo_key <> '' UNION "
          "SELECT clean_photo_key FROM id_cards WHERE clean_photo_key <> ''",
          {});
    });
    if (!rows) return rows.err();
    std::vector<std::string> keys;
    keys.reserve(rows->size());
    for (const auto& r : *rows)
      if (!r.empty() && r[0]) keys.push_back(*r[0]);
    return keys;
  }

  base::result<std::vector<raw_photo_ref>> list_expired_raw(const std::string& before, int limit) override {
    if (limit < 1 || limit > 1000)
      return base::make_error(base::errc::invalid_argument,
                              "limit: must be 1..1000 (got " + std::to_string(limit) + ")");
    if (!is_valid_timestamp(before)) return base::make_error(base::errc::invalid_argument, "before: not a timestamp");
    auto rows = run(true, [&](sql_connection& c) {
      return c.query(
          "SELECT id, raw_photo_key, raw_photo_at FROM id_cards WHERE raw_photo_key <> '' AND raw_photo_at <> '' "
          "AND raw_photo_at < $1 AND status = 'clean' AND clean_photo_key <> '' "
          "ORDER BY raw_photo_at, id LIMIT CAST($2 AS INTEGER)",
          {before, std::to_string(limit)});
    });
    if (!rows) return rows.err();
    std::vector<raw_photo_ref> out;
    out.reserve(rows->size());
    for (const auto& r : *rows) {
      if (r.size() != 3 || !r[0] || !r[1] || !r[2])
        return base::make_error(base::errc::corrupt, "id_cards: unexpected raw photo row");
      out.push_back({*r[0], *r[1], *r[2]});
    }
    return out;
  }

  base::result<bool> clear_raw_photo(const std::string& id, const std::string& key) override {
    if (!is_valid_id(id) || key.empty()) return false;
    auto rows = run(false, [&](sql_connection& c) {
      return c.query(
          "UPDATE id_cards SET raw_photo_url = '', raw_photo_key = '', raw_photo_at = '', updated_at = $3 "
          "WHERE id = $1 AND raw_photo_key = $2 AND status = 'clean' AND clean_photo_key <> '' RETURNING id",
          {id, key, now_timestamp()});
    });
    if (!rows) return rows.err();
    return !rows->empty();
  }

  std::string backend_name() const override {
    return pool_->dialect() == sql_dialect::sqlite ? "sqlite" : "postgresql";
  }

 private:
  template <class F>
  auto run(bool read_only, F&& fn) -> decltype(fn(std::declval<sql_connection&>())) {
    return with_connection(*pool_, read_only, std::forward<F>(fn));
  }

  // The one constraint a card write can break is idNumber unique per organization
  // (migration 11): say so instead of passing on the database's wording.
  static base::result<id_card> unique_id_number(base::result<id_card> r) {
    if (!r.ok() && r.err().code == base::errc::conflict)
      return base::make_error(base::errc::conflict, "id_number: already used by another card of this organization");
    return r;
  }

  base::result<id_card> one_card(bool read_only, const std::string& sql, const std::vector<sql_param>& params,
                                 const std::string& id) {
    auto rows = run(read_only, [&](sql_connection& c) { return c.query(sql, params); });
    if (!rows) return rows.err();
    if (rows->empty()) return card_not_found(id);
    return card_from_row(rows->front());
  }

  std::shared_ptr<sql_pool> pool_;
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The SQLite path named by url, or invalid_argument for a scheme we do not serve.
base::result<std::string> sqlite_path_of(const std::string& url) {
  if (url.empty()) return std::string("data/idphoto.db");
  std::string path = url;
  if (starts_with(url, "sqlite://")) {
    path = url.substr(9);
  } else if (starts_with(url, "sqlite:")) {
    path = url.substr(7);
  } else {
    // A scheme-looking prefix ("mysql://", "http://") is refused rather than taken as a path.
    const size_t sep = url.find("://");
    if (sep != std::string::npos) {
      bool scheme = sep > 0;
      for (size_t i = 0; i < sep; ++i) {
        const char c = url[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
              c == '.'))
          scheme = false;
      }
      if (scheme)
        return base::make_error(base::errc::invalid_argument, "database_url: unknown scheme " + url.substr(0, sep) +
                                                                  " (want sqlite:PATH, a path, or postgres://)");
    }
  }
  if (path.empty()) return base::make_error(base::errc::invalid_argument, "database_url: empty SQLite path");
  if (path.find('\0') != std::string::npos)
    return base::make_error(base::errc::invalid_argument, "database_url: NUL in path");
  return path;
}

}  // namespace

base::result<std::shared_ptr<sql_pool>> open_migrated_pool(const std::string& database_url, open_report* report) {
  std::shared_ptr<sql_pool> pool;
  if (starts_with(database_url, "postgres://") || starts_with(database_url, "postgresql://")) {
    auto p = open_postgres_pool(database_url, postgres_pool_size);
    if (!p) return p.err();
    pool = std::move(*p);
  } else {
    auto path = sqlite_path_of(database_url);
    if (!path) return path.err();
    if (*path != ":memory:") {
      const std::filesystem::path parent = std::filesystem::path(*path).parent_path();
      std::error_code ec;
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec)
        return base::make_error(base::errc::io, "database: cannot create " + parent.string() + ": " + ec.message());
    }
    auto p = open_sqlite_pool(*path);
    if (!p) return p.err();
    pool = std::move(*p);
  }
  {
    auto lease = pool->acquire();
    if (!lease) return lease.err();
    auto migrated = apply_migrations(**lease, pool->dialect());
    if (!migrated) return migrated.err();
    if (report) *report = *migrated;
  }
  return pool;
}

std::unique_ptr<repository> make_sql_repository(std::shared_ptr<sql_pool> pool) {
  return std::make_unique<sql_repository>(std::move(pool));
}

base::result<std::unique_ptr<repository>> open_repository(const std::string& database_url, open_report* report) {
  auto pool = open_migrated_pool(database_url, report);
  if (!pool) return pool.err();
  return make_sql_repository(std::move(*pool));
}

base::result<std::unique_ptr<repository>> open_repository(const std::string& database_url) {
  return open_repository(database_url, nullptr);
}

}  // namespace idphoto::db
