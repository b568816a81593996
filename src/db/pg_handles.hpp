// libpq handles in unique_ptrs closed by libpq's own free functions (the backend and the
// tests' admin connection share them).
#pragma once
#include <libpq-fe.h>

#include "base/unique_handle.hpp"

namespace idphoto::db {

using pg_conn_ptr = base::unique_handle<PGconn, PQfinish>;
using pg_result_ptr = base::unique_handle<PGresult, PQclear>;

}  // namespace idphoto::db
