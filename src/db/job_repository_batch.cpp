// The job repository's batches: create_batch (the batch, its roster problems, a card per row
// and a job per photo, in one transaction), reading a batch back, and closing it when idle.
#include <algorithm>
#include <set>
#include <tuple>

#include "db/job_repository_internal.hpp"
#include "db/records.hpp"
#include "db/sql.hpp"

namespace idphoto::db::detail {

namespace {

// The card of a roster row: found by (organization, idNumber) and rewritten from the row,
// or created. Its id.
base::result<std::string> upsert_card(sql_connection& c, const id_card_fields& f, const std::string& now) {
  const auto text = [](const std::optional<std::string>& v) { return v.value_or(""); };
  const std::string org = text(f.organization), number = text(f.id_number);
  if (!number.empty()) {
    auto found = c.query(
        "UPDATE id_cards SET full_name = $3, role = $4, issued_at = $5, expires_at = $6, "
        "updated_at = $7 WHERE id = (SELECT id FROM id_cards WHERE organization = $1 AND "
        "id_number = $2 ORDER BY created_at, id LIMIT 1) RETURNING id",
        {org, number, text(f.full_name), text(f.role), text(f.issued_at), text(f.expires_at), now});
    if (!found) return found.err();
    if (!found->empty() && found->front()[0]) return *found->front()[0];
  }
  auto id = new_card_id();
  if (!id) return id.err();
  const std::string created = now_timestamp();
  auto ins = c.query(
      "INSERT INTO id_cards (id, full_name, id_number, organization, role, issued_at, "
      "expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
      "RETURNING id",
      {*id, text(f.full_name), number, org, text(f.role), text(f.issued_at), text(f.expires_at), created});
  if (!ins) return ins.err();
  return *id;
}

base::result<void> validate_batch(const new_batch& nb) {
  IDPHOTO_TRY(check_idempotency(nb.subject, "batches", nb.idempotency_key, nb.request_fingerprint));
  IDPHOTO_TRY(check_text("organization", nb.organization, max_field_bytes));
  IDPHOTO_TRY(check_kind(nb.job_kind));
  if (nb.max_attempts < 1 || nb.max_attempts > 100)
    return base::make_error(base::errc::invalid_argument, "max_attempts: want 1..100");
  if (nb.rows.size() > max_batch_rows) return base::make_error(base::errc::too_large, "rows: more than 100000");
  for (const auto& r : nb.rows) {
    const std::string at = "row " + std::to_string(r.row) + ": ";
    auto v = validate_fields(r.fields, true);
    if (!v) return base::make_error(v.err().code, at + v.err().detail);
    if (r.with_photo) {
      auto p = validate_photo_update(r.with_photo->card);
      if (!p) return base::make_error(p.err().code, at + p.err().detail);
      auto q = check_payload("payload", r.with_photo->payload);
      if (!q) return base::make_error(q.err().code, at + q.err().detail);
    }
  }
  for (const auto& p : nb.problems)
    if (!is_batch_problem_code(p.code))
      return base::make_error(base::errc::invalid_argument, "problems: unknown code " + storable_text(p.code, 40));
  return {};
}

}  // namespace

base::result<batch_created> sql_job_repository::create_batch(const new_batch& nb) {
  IDPHOTO_TRY(validate_batch(nb));
  return in_transaction(*pool_, [&](sql_connection& c) -> base::result<batch_created> {
    if (!nb.idempotency_key.empty()) {
      auto prior = prior_request<batch>(
          c, "SELECT " + batch_columns + " FROM batches WHERE subject = $1 AND idempotency_key = $2",
          {nb.subject, nb.idempotency_key}, nb.request_fingerprint, batch_from_row);
      if (!prior) return prior.err();
      if (*prior) return batch_created{std::move(**prior), false, {}};
    }
    IDPHOTO_TRY(lock_organizations(c, nb));
    auto id = new_card_id();
    if (!id) return id.err();
    const std::string now = now_timestamp();
    auto ins = c.query(
        "INSERT INTO batches (id, subject, organization, total, "
        "idempotency_key, request_fingerprint, created_at) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7) RETURNING " +
            batch_columns,
        {*id, nb.subject, nb.organization, std::to_string(nb.rows.size()), nb.idempotency_key, nb.request_fingerprint,
         now});
    if (!ins) return ins.err();
    if (ins->empty()) return corrupt("batches: insert returned nothing");
    auto b = batch_from_row(ins->front());
    if (!b) return b.err();
    batch_created out{std::move(*b), true, {}};
    std::vector<batch_problem> problems = nb.problems;
    for (const auto& row : nb.rows) {
      auto card_id = upsert_card(c, row.fields, now);
      if (!card_id)
        return base::make_error(card_id.err().code, "row " + std::to_string(row.row) + ": " + card_id.err().detail);
      batch_item item{row.row, *card_id, ""};
      if (row.with_photo) {
        auto busy = check_card_free(c, *card_id);
        if (!busy) {
          if (busy.err().code != base::errc::conflict) return busy.err();
          problems.push_back({row.row, row.fields.id_number.value_or(""), "invalid_row",
                              "this card already has a photo job in flight; send the photo "
                              "again when it is done"});
        } else {
          auto w = c.query(set_photo_sql, photo_update_params(*card_id, row.with_photo->card, now));
          if (!w) return w.err();
          auto j = insert_job(c, "", nb.job_kind, *card_id, out.b.id, row.row, job_priority::batch, nb.max_attempts,
                              row.with_photo->payload, "", "", "", "", now_timestamp());
          if (!j) return j.err();
          item.job_id = j->id;
        }
      }
      out.items.push_back(std::move(item));
    }
    for (size_t i = 0; i < problems.size(); ++i) {
      const auto& p = problems[i];
      auto w = c.query(
          "INSERT INTO batch_problems (batch_id, seq, batch_row, id_number, code, "
          "message) VALUES ($1, $2, $3, $4, $5, $6)",
          {out.b.id, std::to_string(i + 1), std::to_string(p.row), storable_text(p.id_number, max_field_bytes), p.code,
           storable_text(p.message, max_message_bytes)});
      if (!w) return w.err();
    }
    IDPHOTO_TRY(close_batch_if_idle(c, out.b.id, now));
    auto again = c.query("SELECT " + batch_columns + " FROM batches WHERE id = $1", {out.b.id});
    if (!again) return again.err();
    if (again->empty()) return corrupt("batches: row vanished");
    auto fresh = batch_from_row(again->front());
    if (!fresh) return fresh.err();
    out.b = std::move(*fresh);
    return out;
  });
}

base::result<batch> sql_job_repository::get_batch(const std::string& id) {
  const auto missing = [&] {
    return base::make_error(base::errc::not_found, "batch " + (is_valid_id(id) ? id : std::string("(malformed id)")));
  };
  if (!is_valid_id(id)) return missing();
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
    return c.query("SELECT " + batch_columns + " FROM batches WHERE id = $1", {id});
  });
  if (!rows) return rows.err();
  if (rows->empty()) return missing();
  return batch_from_row(rows->front());
}

base::result<std::vector<batch_problem>> sql_job_repository::batch_problems(const std::string& batch_id) {
  if (!is_valid_id(batch_id)) return std::vector<batch_problem>();
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
    return c.query(
        "SELECT batch_row, id_number, code, message, 0, seq FROM batch_problems "
        "WHERE batch_id = $1 UNION ALL "
        "SELECT j.batch_row, COALESCE(c.id_number, ''), j.problem_code, j.problem_message, 1, 0 "
        "FROM jobs j LEFT JOIN id_cards c ON c.id = j.card_id "
        "WHERE j.batch_id = $1 AND j.problem_code <> ''",
        {batch_id});
  });
  if (!rows) return rows.err();
  struct keyed {
    int row, source, seq;
    batch_problem p;
  };
  std::vector<keyed> all;
  for (const auto& r : *rows) {
    if (r.size() != 6) return corrupt("batch_problems: unexpected column count");
    for (const auto& v : r)
      if (!v) return corrupt("batch_problems: NULL column");
    keyed k{};
    if (!parse_int(*r[0], k.row) || !parse_int(*r[4], k.source) || !parse_int(*r[5], k.seq))
      return corrupt("batch_problems: a number does not parse");
    k.p = {k.row, *r[1], *r[2], *r[3]};
    all.push_back(std::move(k));
  }
  std::sort(all.begin(), all.end(), [](const keyed& a, const keyed& b) {
    return std::tie(a.row, a.source, a.seq, a.p.code) < std::tie(b.row, b.source, b.seq, b.p.code);
  });
  std::vector<batch_problem> out;
  out.reserve(all.size());
  for (auto& k : all) out.push_back(std::move(k.p));
  return out;
}

base::result<job_counts> sql_job_repository::counts_by_batch(const std::string& batch_id) {
  job_counts counts;
  if (!is_valid_id(batch_id)) return counts;
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
    return c.query("SELECT status, COUNT(*) FROM jobs WHERE batch_id = $1 GROUP BY status", {batch_id});
  });
  if (!rows) return rows.err();
  for (const auto& r : *rows) {
    int n = 0;
    if (r.size() != 2 || !r[0] || !r[1] || !parse_int(*r[1], n)) return corrupt("jobs: count does not parse");
    auto st = job_status_from(*r[0]);
    if (!st) return corrupt("jobs: unknown status " + *r[0]);
    switch (*st) {
      case job_status::queued:
        counts.queued = n;
        break;
      case job_status::running:
        counts.running = n;
        break;
      case job_status::done:
        counts.done = n;
        break;
      case job_status::failed:
        counts.failed = n;
        break;
      case job_status::dead:
        counts.dead = n;
        break;
    }
  }
  return counts;
}

/* Keyset pages in creation order: a batch's jobs are inserted in roster order within one
 * transaction, and created_at strictly increases within a process, so (created_at, id)
 * ascending is roster order; the cursor is the last job served, as for the card list. */
base::result<job_page> sql_job_repository::list_by_batch(const std::string& batch_id, int limit,
                                                         const std::string& cursor) {
  if (limit < 1 || limit > 1000)
    return base::make_error(base::errc::invalid_argument, "limit: must be 1..1000 (got " + std::to_string(limit) + ")");
  std::vector<sql_param> params = {batch_id, std::to_string(limit + 1)};
  std::string sql = "SELECT " + job_columns + " FROM jobs WHERE batch_id = $1 ";
  if (!cursor.empty()) {
    auto pos = decode_cursor(cursor);
    if (!pos) return pos.err();
    sql += "AND (created_at, id) > ($3, $4) ";
    params.push_back(pos->first);
    params.push_back(pos->second);
  }
  sql += "ORDER BY created_at, id LIMIT CAST($2 AS INTEGER)";
  job_page out;
  if (!is_valid_id(batch_id)) return out;
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) { return c.query(sql, params); });
  if (!rows) return rows.err();
  for (const auto& r : *rows) {
    if (out.items.size() == static_cast<size_t>(limit)) {
      out.next_cursor = encode_cursor(out.items.back().created_at, out.items.back().id);
      break;
    }
    auto j = job_from_row(r);
    if (!j) return j.err();
    out.items.push_back(std::move(*j));
  }
  return out;
}

base::result<void> close_batch_if_idle(sql_connection& c, const std::string& batch_id, const std::string& ts) {
  auto w = c.query(
      "UPDATE batches SET status = 'done', finished_at = $2 WHERE id = $1 AND "
      "status = 'running' AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = $1 AND "
      "status IN ('queued', 'running')) RETURNING id",
      {batch_id, ts});
  if (!w) return w.err();
  return {};
}

/* PostgreSQL: concurrent batches for the same organization would both find no card for a
 * new idNumber and both insert it; one transaction-scoped advisory lock per organization
 * (taken in sorted order, so two batches never wait on each other in a cycle) serialises
 * them. SQLite's BEGIN IMMEDIATE already serialises every writer. */
base::result<void> sql_job_repository::lock_organizations(sql_connection& c, const new_batch& nb) {
  if (pool_->dialect() != sql_dialect::postgresql) return {};
  std::set<std::string> orgs;
  for (const auto& r : nb.rows)
    if (r.fields.id_number && !r.fields.id_number->empty()) orgs.insert(r.fields.organization.value_or(""));
  for (const auto& o : orgs) {
    auto l = c.query("SELECT pg_advisory_xact_lock(7345, hashtext($1))", {o});
    if (!l) return l.err();
  }
  return {};
}

}  // namespace idphoto::db::detail
