// libpq handles in unique_ptrs with named deleters (the backend and the tests' admin
// connection share them).
#pragma once
#include <libpq-fe.h>

#include <memory>

namespace idphoto::db {

struct pg_conn_deleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using pg_conn_ptr = std::unique_ptr<PGconn, pg_conn_deleter>;

struct pg_result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result_ptr = std::unique_ptr<PGresult, pg_result_deleter>;

}  // namespace idphoto::db
