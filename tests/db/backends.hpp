// Test backends for the conformance suite: each hands out fresh, empty databases.
// SQLite: a file in a private temp directory. PostgreSQL: a new database on the server the
// CTest fixture started (scripts/pg-test-server), found through IDPHOTO_TEST_DATABASE_URL or
// $IDPHOTO_TEST_PG_DIR/database_url. A missing server is an error, never a skip.
#pragma once
#include <memory>
#include <string>

#include "base/result.hpp"

namespace idphoto::db::test {

class backend {
 public:
  virtual ~backend() = default;
  // A URL of a new empty database; the backend drops it when destroyed.
  virtual base::result<std::string> fresh_url() = 0;
};

// "sqlite" or "postgresql"; unavailable (with how to fix it) when the backend is not there.
base::result<std::unique_ptr<backend>> make_backend(const std::string& name);

// A private directory under /tmp (mode 0755, so the postgres OS user can enter it).
std::string make_temp_dir();
void remove_tree(const std::string& dir);

// Runs scripts/pg-test-server with args; its exit status and stdout.
int run_pg_test_server(const std::string& args, std::string* out);

}  // namespace idphoto::db::test
