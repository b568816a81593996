// Fresh databases for the conformance suite (see backends.hpp).
#include "db/backends.hpp"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "db/pg_handles.hpp"
#include "db/records.hpp"

namespace idphoto::db::test {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/idphoto-db-test.XXXXXX";
  const char* d = mkdtemp(tmpl);
  if (!d) return "";
  chmod(d, 0755);
  return d;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

int run_pg_test_server(const std::string& args, std::string* out) {
  const std::string cmd = std::string(IDPHOTO_SOURCE_DIR) + "/scripts/pg-test-server " + args;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

struct conninfo_deleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

class sqlite_backend final : public backend {
 public:
  sqlite_backend() : dir_(make_temp_dir()) {}
  ~sqlite_backend() override { remove_tree(dir_); }
  base::result<std::string> fresh_url() override {
    if (dir_.empty()) return base::make_error(base::errc::io, "mkdtemp failed");
    return "sqlite:" + dir_ + "/db" + std::to_string(++n_) + ".sqlite";
  }

 private:
  std::string dir_;
  int n_ = 0;
};

class postgres_backend final : public backend {
 public:
  explicit postgres_backend(std::string admin_url) : admin_url_(std::move(admin_url)) {}
  ~postgres_backend() override {
    for (const auto& name : created_) (void)admin_exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  base::result<std::string> fresh_url() override {
    auto id = new_card_id();
    if (!id) return id.err();
    // The name is our own hex, not input: safe to splice (identifiers cannot be parameters).
    const std::string name = "idphoto_t_" + id->substr(0, 20);
    IDPHOTO_TRY(admin_exec("CREATE DATABASE " + name));
    created_.push_back(name);
    char* err = nullptr;
    std::unique_ptr<PQconninfoOption, conninfo_deleter> opts(PQconninfoParse(admin_url_.c_str(), &err));
    if (!opts) {
      std::string e = err ? err : "?";
      PQfreemem(err);
      return base::make_error(base::errc::invalid_argument, "admin url: " + e);
    }
    std::string url = "postgresql:///" + name;
    char sep = '?';
    for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
      const std::string k = o->keyword;
      if (!o->val || k == "dbname") continue;
      url += sep + k + "=" + url_encode(o->val);
      sep = '&';
    }
    return url;
  }

 private:
  base::result<void> admin_exec(const std::string& sql) {
    pg_conn_ptr c(PQconnectdb(admin_url_.c_str()));
    if (!c || PQstatus(c.get()) != CONNECTION_OK)
      return base::make_error(base::errc::unavailable,
                              std::string("admin connect: ") + (c ? PQerrorMessage(c.get()) : "oom"));
    pg_result_ptr r(PQexec(c.get(), sql.c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return base::make_error(base::errc::internal, sql + ": " + PQerrorMessage(c.get()));
    return {};
  }

  std::string admin_url_;
  std::vector<std::string> created_;
};

}  // namespace

base::result<std::unique_ptr<backend>> make_backend(const std::string& name) {
  if (name == "sqlite") return std::unique_ptr<backend>(std::make_unique<sqlite_backend>());
  if (name != "postgresql") return base::make_error(base::errc::invalid_argument, "unknown backend " + name);
  std::string url;
  if (const char* env = std::getenv("IDPHOTO_TEST_DATABASE_URL"); env && *env) {
    url = env;
  } else if (const char* dir = std::getenv("IDPHOTO_TEST_PG_DIR"); dir && *dir) {
    std::ifstream in(std::string(dir) + "/database_url");
    std::getline(in, url);
    if (url.empty())
      return base::make_error(base::errc::unavailable, std::string("no ") + dir +
                                                           "/database_url: did the CTest fixture "
                                                           "db.pg_server_start (scripts/pg-test-server start) run?");
  } else {
    return base::make_error(base::errc::unavailable,
                            "set IDPHOTO_TEST_DATABASE_URL or IDPHOTO_TEST_PG_DIR (run through ctest, "
                            "which starts scripts/pg-test-server)");
  }
  return std::unique_ptr<backend>(std::make_unique<postgres_backend>(url));
}

}  // namespace idphoto::db::test
