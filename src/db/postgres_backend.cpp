// The PostgreSQL side of the SQL layer (libpq): a small pool of connections, each used by
// one thread at a time, every statement sent with PQexecParams (parameters never spliced
// into SQL text). A connection that breaks is dropped; the next lease opens a fresh one.
#include <libpq-fe.h>

#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "db/pg_handles.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

namespace {

void ignore_notice(void*, const char*) {}

// The first line of libpq's message, without the trailing newline.
std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  const size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

/* SQLSTATE classes (PostgreSQL appendix A) to our codes: 08 connection exception, 57P
 * operator intervention (shutdown), 53 insufficient resources → unavailable (retry later);
 * 23 integrity constraint → conflict; 40 transaction rollback (serialization, deadlock) →
 * conflict; 22 data exception → invalid_argument; 57014 query canceled → timeout. */
base::errc code_of_sqlstate(const char* state) {
  if (!state || std::strlen(state) != 5) return base::errc::internal;
  const std::string s = state;
  if (s == "57014") return base::errc::timeout;
  if (s.compare(0, 2, "08") == 0 || s.compare(0, 3, "57P") == 0 || s.compare(0, 2, "53") == 0)
    return base::errc::unavailable;
  if (s.compare(0, 2, "23") == 0 || s.compare(0, 2, "40") == 0) return base::errc::conflict;
  if (s.compare(0, 2, "22") == 0) return base::errc::invalid_argument;
  return base::errc::internal;
}

// pg_conn_ptr to a server, or unavailable with libpq's reason.
base::result<pg_conn_ptr> connect(const std::string& url) {
  // Keywords before "dbname" are defaults the URL may override (libpq's expand_dbname rule).
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "idphoto", url.c_str(), nullptr};
  pg_conn_ptr conn(PQconnectdbParams(keys, values, 1));
  if (!conn) return base::make_error(base::errc::unavailable, "postgresql: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return base::make_error(base::errc::unavailable, "postgresql: connect: " + first_line(PQerrorMessage(conn.get())));
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return conn;
}

class pg_connection final : public sql_connection {
 public:
  explicit pg_connection(pg_conn_ptr c) : conn_(std::move(c)) {}

  base::result<std::vector<sql_row>> query(const std::string& sql, const std::vector<sql_param>& params) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    pg_result_ptr res(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                   nullptr, nullptr, 0));
    IDPHOTO_TRY(check(res.get()));
    std::vector<sql_row> rows;
    const int n_rows = PQntuples(res.get()), n_cols = PQnfields(res.get());
    rows.reserve(static_cast<size_t>(n_rows));
    for (int r = 0; r < n_rows; ++r) {
      sql_row row(static_cast<size_t>(n_cols));
      for (int c = 0; c < n_cols; ++c) {
        if (PQgetisnull(res.get(), r, c)) continue;
        row[static_cast<size_t>(c)] =
            std::string(PQgetvalue(res.get(), r, c), static_cast<size_t>(PQgetlength(res.get(), r, c)));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  base::result<void> exec_script(const std::string& sql) override {
    pg_result_ptr res(PQexec(conn_.get(), sql.c_str()));
    return check(res.get());
  }

  bool broken() const override { return PQstatus(conn_.get()) != CONNECTION_OK; }
  // false when the session is lost or was left inside a transaction.
  bool reusable() const { return !broken() && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }

 private:
  base::result<void> check(PGresult* res) {
    const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
    if (broken())
      return base::make_error(base::errc::unavailable,
                              "postgresql: connection lost: " + first_line(PQerrorMessage(conn_.get())));
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string msg = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_.get()));
    return base::make_error(code_of_sqlstate(state), std::string("postgresql: ") + (state ? state : "?") + ": " + msg);
  }

  pg_conn_ptr conn_;
};

/* The pool: idle connections on a stack, at most max_ connections open at once. acquire()
 * takes an idle one, or opens a new one when under the cap (outside the lock, so a slow
 * connect does not block releases), or waits for a release. A connection that reports
 * broken() on release is closed and its slot freed, so after a server restart the next
 * lease reconnects instead of failing forever. */
class pg_pool final : public sql_pool {
 public:
  pg_pool(std::string url, int max_connections, std::unique_ptr<pg_connection> first)
      : url_(std::move(url)), max_(max_connections < 1 ? 1 : max_connections) {
    idle_.push_back(std::move(first));
    open_ = 1;
  }
  sql_dialect dialect() const override { return sql_dialect::postgresql; }

  base::result<sql_lease> acquire() override {
    std::unique_lock<std::mutex> lock(mutex_);
    released_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      std::unique_ptr<pg_connection> c = std::move(idle_.back());
      idle_.pop_back();
      return lease(c.release());
    }
    ++open_;
    lock.unlock();
    auto conn = connect(url_);
    if (!conn) {
      lock.lock();
      --open_;
      released_.notify_one();
      return conn.err();
    }
    return lease(new pg_connection(std::move(*conn)));
  }

 private:
  sql_lease lease(pg_connection* c) {
    return sql_lease(c, [this](sql_connection* p) { release(static_cast<pg_connection*>(p)); });
  }

  void release(pg_connection* p) {
    std::unique_ptr<pg_connection> c(p);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!c->reusable()) {
      --open_;
      c.reset();
    } else {
      idle_.push_back(std::move(c));
    }
    released_.notify_one();
  }

  std::string url_;
  int max_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<pg_connection>> idle_;
  int open_ = 0;
};

}  // namespace

base::result<std::unique_ptr<sql_pool>> open_postgres_pool(const std::string& url, int max_connections) {
  auto conn = connect(url);
  if (!conn) return conn.err();
  return std::unique_ptr<sql_pool>(
      std::make_unique<pg_pool>(url, max_connections, std::make_unique<pg_connection>(std::move(*conn))));
}

}  // namespace idphoto::db
