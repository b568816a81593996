// `idphoto serve`: the HTTP service. Reads the environment (config/idphoto.example.env),
// reports every configuration error at once, opens the backends (migrations applied),
// marks interrupted jobs failed, sweeps temp files and expired raw photos (then hourly), then
// serves until SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "app/service.hpp"
#include "base/catching.hpp"
#include "cli/args.hpp"
#include "cli/models_dir.hpp"
#include "cli/stop_signal.hpp"
#include "server/http_server.hpp"
#include "server/jwt.hpp"

namespace idphoto::cli {

namespace {

const char* help =
    "usage: idphoto serve [--dev]\n"
    "  serves the HTTP API (docs/api.md); configured from the environment:\n"
    "  PORT, DATABASE_URL, CLOUDINARY_URL (or CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET),\n"
    "  JWT_SECRET and IDPHOTO_* keys (see config/idphoto.example.env)\n"
    "  --dev  development mode: without JWT_SECRET, use a random secret kept in\n"
    "         $IDPHOTO_DATA_DIR/dev-jwt-secret, bind 127.0.0.1 unless IDPHOTO_BIND is set,\n"
    "         and print the URL and a ready-made 12 h token\n";

// The dev secret kept in the data dir (created with 256 random bits, mode 0600, on first use).
base::result<std::string> dev_secret(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) return base::make_error(base::errc::io, "cannot create " + data_dir + ": " + ec.message());
  const fs::path p = fs::path(data_dir) / "dev-jwt-secret";
  if (std::ifstream in(p); in) {
    std::string s;
    std::getline(in, s);
    if (s.size() >= 32) return s;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return base::make_error(base::errc::internal, "no random bytes for the dev secret");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char b : raw) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  const std::string tmp = p.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return base::make_error(base::errc::io, "cannot write " + tmp);
  const std::string line = s + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0)
    return base::make_error(base::errc::io, "cannot write " + p.string());
  return s;
}

// A port the kernel considers free now (bound to port 0 and released).
base::result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return base::make_error(base::errc::io, "socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) return base::make_error(base::errc::io, "cannot find a free port");
  return static_cast<int>(ntohs(a.sin_port));
}

}  // namespace

int cmd_serve(const std::vector<std::string>& argv) {
  auto a = parse_args(argv, {}, {"--dev", "--help", "-h"});
  if (!a.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n(see idphoto serve --help)\n", a.err().detail.c_str());
    return 2;
  }
  if (a->has("--help") || a->has("-h")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (!a->positional.empty()) {
    std::fprintf(stderr, "idphoto: error: serve takes no arguments (configuration is the environment)\n");
    return 2;
  }
  const bool dev = a->has("--dev");

  auto parsed = app::app_config::parse_env();
  app::app_config& cfg = parsed.cfg;
  cfg.pipeline.models_dir = find_models_dir("");  // IDPHOTO_MODELS_DIR when set, else the search
  bool dev_secret_used = false;
  if (dev) {
    std::string bind;  // unset or empty: --dev binds loopback only
    base::read_env_string(base::process_env, "IDPHOTO_BIND", &bind);
    if (bind.empty()) cfg.bind_host = "127.0.0.1";
    if (cfg.jwt_secret.empty()) {
      auto s = dev_secret(cfg.data_dir);
      if (!s.ok()) parsed.errors.push_back("--dev: " + s.err().detail);
      else {
        cfg.jwt_secret = *s;
        dev_secret_used = true;
      }
    }
  }
  auto problems = cfg.problems();
  parsed.errors.insert(parsed.errors.end(), problems.begin(), problems.end());
  if (!parsed.errors.empty()) {
    std::fprintf(stderr, "idphoto: %zu configuration error%s:\n", parsed.errors.size(),
                 parsed.errors.size() == 1 ? "" : "s");
    for (const auto& e : parsed.errors) std::fprintf(stderr, "  %s\n", e.c_str());
    return 2;
  }

  // SIGINT/SIGTERM become a message to the waiter thread below, whichever thread receives them.
  if (!install_stop_signal_handlers()) {
    std::perror("idphoto: error: cannot install the SIGINT/SIGTERM handlers");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  // PORT=0 (tests): pick the free port now, so the public URLs of stored files name it.
  if (cfg.port == 0 && cfg.public_url.empty()) {
    auto p = free_port();
    if (!p.ok()) {
      std::fprintf(stderr, "idphoto: error: %s\n", p.err().detail.c_str());
      return 1;
    }
    cfg.port = *p;
  }

  std::fprintf(stderr, "idphoto: loading %s (%d worker%s) from %s\n", cfg.pipeline.model.c_str(), cfg.n_workers,
               cfg.n_workers == 1 ? "" : "s", cfg.pipeline.models_dir.c_str());
  auto svc = app::service::create(cfg);
  if (!svc.ok()) {
    std::fprintf(stderr, "idphoto: error: cannot start: %s\n", svc.err().to_string().c_str());
    return 1;
  }
  auto rec = (*svc)->recover();
  if (!rec.ok()) {
    std::fprintf(stderr, "idphoto: error: startup recovery failed: %s\n", rec.err().to_string().c_str());
    return 1;
  }
  std::fprintf(
      stderr,
      "idphoto: database %s, store %s; %d interrupted job%s marked failed, %d temp file%s and %d orphan%s removed\n",
      cfg.effective_database_url().rfind("postgres", 0) == 0 ? "postgresql" : cfg.effective_database_url().c_str(),
      cfg.cloudinary ? "cloudinary" : cfg.effective_store_dir().c_str(), rec->interrupted,
      rec->interrupted == 1 ? "" : "s", rec->temp_removed, rec->temp_removed == 1 ? "" : "s", rec->orphans_removed,
      rec->orphans_removed == 1 ? "" : "s");
  // IDPHOTO_RAW_RETENTION_DAYS: one sweep now, then one every raw_sweep_interval (below).
  const auto sweep_raw = [&](bool at_start) {
    const base::result<void> swept = base::catching("raw photo sweep", [&]() -> base::result<void> {
      auto r = (*svc)->sweep_raw_photos();
      if (!r.ok()) return r.err();
      if (at_start || r->removed > 0 || r->busy > 0)
        std::fprintf(stderr,
                     "idphoto: retention: %d raw photo%s older than %d day%s removed (%d store delete%s failed, "
                     "%d card%s busy, left for the next sweep)\n",
                     r->removed, r->removed == 1 ? "" : "s", cfg.raw_retention_days,
                     cfg.raw_retention_days == 1 ? "" : "s", r->blob_errors, r->blob_errors == 1 ? "" : "s", r->busy,
                     r->busy == 1 ? "" : "s");
      return {};
    });
    if (!swept.ok()) std::fprintf(stderr, "idphoto: retention sweep failed: %s\n", swept.err().to_string().c_str());
  };
  if (cfg.raw_retention_days > 0) sweep_raw(true);
  else std::fprintf(stderr, "idphoto: retention: raw photos are kept (IDPHOTO_RAW_RETENTION_DAYS=0)\n");
  std::fprintf(stderr, "idphoto: memory estimate %lld MiB of IDPHOTO_MEMORY_LIMIT_BYTES %lld MiB\n",
               static_cast<long long>(cfg.memory_estimate_bytes() >> 20),
               static_cast<long long>(cfg.memory_limit_bytes >> 20));

  server::http_server srv(**svc);
  auto port = srv.bind();
  if (!port.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", port.err().detail.c_str());
    return 1;
  }
  const std::string host = cfg.bind_host == "0.0.0.0" ? "localhost" : cfg.bind_host;
  std::fprintf(stderr, "idphoto: listening on http://%s:%d\n", host.c_str(), *port);
  if (dev) {
    if (dev_secret_used)
      std::fprintf(stderr,
                   "idphoto: DEV MODE (not for production): JWT_SECRET is unset, using the random secret kept in "
                   "%s/dev-jwt-secret\n",
                   cfg.data_dir.c_str());
    else std::fprintf(stderr, "idphoto: DEV MODE (not for production): JWT_SECRET from the environment\n");
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    server::jwt_claims c;
    c.sub = "dev";
    c.iat = now;
    c.exp = now + 12 * 3600;
    if (auto t = server::jwt_sign_hs256(c, cfg.jwt_secret); t.ok()) {
      std::fprintf(stderr, "idphoto: dev token (12 h):\n%s\n", t->c_str());
      std::fprintf(stderr, "idphoto: try: curl -H 'Authorization: Bearer %s' http://%s:%d/api/id-cards\n", t->c_str(),
                   host.c_str(), *port);
    }
  }
  std::fflush(stderr);

  std::thread waiter([&] {
    const int sig = wait_for_stop_signal();
    if (sig == 0) return;  // listen ended on its own
    std::fprintf(stderr, "idphoto: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.stop();
  });
  // The retention timer: a thread that sleeps raw_sweep_interval between sweeps, woken to stop.
  constexpr auto raw_sweep_interval = std::chrono::hours(1);
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool sweep_stop = false;
  std::thread sweeper;
  if (cfg.raw_retention_days > 0)
    sweeper = std::thread([&] {
      std::unique_lock<std::mutex> lock(sweep_mu);
      while (!sweep_cv.wait_for(lock, raw_sweep_interval, [&] { return sweep_stop; })) {
        lock.unlock();
        sweep_raw(false);
        lock.lock();
      }
    });
  auto r = srv.listen();
  wake_stop_waiter();
  waiter.join();
  {
    std::lock_guard<std::mutex> lock(sweep_mu);
    sweep_stop = true;
  }
  sweep_cv.notify_all();
  if (sweeper.joinable()) sweeper.join();
  if (!r.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", r.err().detail.c_str());
    return 1;
  }
  return 0;
}

}  // namespace idphoto::cli
