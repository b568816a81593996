// The idphoto binary as a subprocess: configuration errors reported at once, `idphoto token`,
// and a server killed (SIGKILL) mid-job and between a blob and its commit, then restarted: every
// job ends done, no record points at a missing file, nothing is stored twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.hpp"
#include "image/gen.hpp"
#include "server/jwt.hpp"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A child process with the given environment (added to a minimal one), stderr captured.
struct child {
  pid_t pid = -1;
  int err_fd = -1;
  std::string err;  // everything read so far

  child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    int p[2];
    if (pipe(p) != 0) return;
    pid = fork();
    if (pid == 0) {
      dup2(p[1], 2);
      const int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 1);
      close(p[0]);
      std::vector<std::string> envs = {"PATH=/usr/bin:/bin", "OMP_WAIT_POLICY=passive"};
      for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
      std::vector<char*> ev, av;
      for (auto& e : envs) ev.push_back(e.data());
      ev.push_back(nullptr);
      std::vector<std::string> a = {IDPHOTO_EXE};
      a.insert(a.end(), args.begin(), args.end());
      for (auto& s : a) av.push_back(s.data());
      av.push_back(nullptr);
      execve(IDPHOTO_EXE, av.data(), ev.data());
      _exit(127);
    }
    close(p[1]);
    err_fd = p[0];
  }
  // Reads stderr until re matches (returns the match) or the child exits / timeout_s passes.
  std::smatch wait_for(const std::regex& re, int timeout_s) {
    std::smatch m;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    fcntl(err_fd, F_SETFL, O_NONBLOCK);
    while (std::chrono::steady_clock::now() < until) {
      if (std::regex_search(err, m, re)) return m;
      char buf[4096];
      const ssize_t n = read(err_fd, buf, sizeof buf);
      if (n > 0) err.append(buf, static_cast<size_t>(n));
      else if (n == 0) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::regex_search(err, m, re);
    return m;
  }
  // Waits for exit (reading the rest of stderr); returns the exit code, or 128+signal.
  int wait_exit() {
    fcntl(err_fd, F_SETFL, 0);
    char buf[4096];
    ssize_t n;
    while ((n = read(err_fd, buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (err_fd >= 0) close(err_fd);
  }
};

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

}  // namespace

TEST(serve_process, nomodel_config_errors_are_reported_at_once) {
  child c({"serve"}, {{"JWT_SECRET", "short"},
                      {"IDPHOTO_WORKERS", "many"},
                      {"PORT", "99999"},
                      {"IDPHOTO_DEFAULT_FORMAT", "gif"},
                      {"IDPHOTO_DATA_DIR", (fs::temp_directory_path() / "idphoto-config-errors").string()}});
  const int code = c.wait_exit();
  EXPECT_EQ(code, 2) << c.err;
  for (const char* key : {"JWT_SECRET", "IDPHOTO_WORKERS", "PORT", "IDPHOTO_DEFAULT_FORMAT"})
    EXPECT_NE(c.err.find(key), std::string::npos) << key << " missing from:\n" << c.err;
  EXPECT_NE(c.err.find("4 configuration errors"), std::string::npos) << c.err;
}

TEST(serve_process, nomodel_token_mints_a_verifiable_token) {
  const std::string secret = "process-secret-0123456789abcdefghijkl";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    const std::string env_secret = "JWT_SECRET=" + secret;
    char* envp[] = {const_cast<char*>(env_secret.c_str()), const_cast<char*>("OMP_WAIT_POLICY=passive"), nullptr};
    execle(IDPHOTO_EXE, IDPHOTO_EXE, "token", "--sub", "ops", "--ttl", "2h", static_cast<char*>(nullptr), envp);
    _exit(127);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto v = idphoto::server::jwt_verify_hs256(out, secret, now);
  ASSERT_TRUE(v.ok()) << v.err().detail << " token: " << out;
  EXPECT_EQ(v->sub, "ops");
  EXPECT_NEAR(static_cast<double>(v->exp - now), 7200.0, 60.0);
  EXPECT_FALSE(idphoto::server::jwt_verify_hs256(out, secret, now + 7300).ok()) << "expires after the ttl";
}

/* Photo jobs survive crashes (docs/architecture.md, "Photo jobs"): three async uploads; the server
 * is killed (SIGKILL) while the first job is running; restarted with the fault hook, it kills
 * itself between storing a clean photo and committing it; restarted again, every job ends done,
 * every card's files exist, and per job one raw and one clean file are stored — nothing lost,
 * nothing doubled. A short lease (IDPHOTO_JOB_LEASE_MS) makes the restarts pick the jobs up soon. */
TEST(serve_process, killed_mid_job_and_between_blob_and_commit_then_restarted) {
  gen::init();
  const fs::path dir = gen::temp_dir("serve-kill");
  const std::string model = harness::models_dir() + "/isnet-general-fp16.onnx";
  ASSERT_TRUE(fs::is_regular_file(model)) << model << " missing: run `make models`";
  const std::string secret = harness::k_secret;
  const int port = harness::free_port();
  std::map<std::string, std::string> env = {
      {"PORT", std::to_string(port)},     {"IDPHOTO_BIND", "127.0.0.1"},
      {"IDPHOTO_DATA_DIR", dir.string()}, {"IDPHOTO_MODELS_DIR", harness::models_dir()},
      {"IDPHOTO_JOB_LEASE_MS", "2000"},   {"JWT_SECRET", secret}};
  const std::regex listening("listening on http://[^:]+:([0-9]+)");
  idphoto::server::jwt_claims claims;
  claims.sub = "test";
  claims.exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      3600;
  const httplib::Headers auth = {{"Authorization", "Bearer " + *idphoto::server::jwt_sign_hs256(claims, secret)}};
  std::vector<std::string> cards, jobs;
  const auto job_of = [&](httplib::Client& c, const std::string& job) {
    auto g = c.Get("/api/jobs/" + job, auth);
    return g && g->status == 200 ? body_of(g) : json();
  };
  {
    child srv({"serve"}, env);
    ASSERT_FALSE(srv.wait_for(listening, 120).empty()) << srv.err;
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(300, 0);
    const std::string photo = harness::astronaut(600, ".jpg");
    for (int i = 0; i < 3; ++i) {
      auto created =
          c.Post("/api/id-cards", auth, json{{"fullName", "Crash " + std::to_string(i)}}.dump(), "application/json");
      ASSERT_TRUE(created);
      ASSERT_EQ(created->status, 201) << created->body;
      cards.push_back(body_of(created)["id"]);
      auto up = c.Post("/api/id-cards/" + cards.back() + "/photo?async=true", auth, photo, "image/jpeg");
      ASSERT_TRUE(up);
      ASSERT_EQ(up->status, 202) << up->body;
      jobs.push_back(body_of(up)["job"]["id"]);
    }
    bool running = false;  // kill while the first job is being cleaned
    for (int i = 0; i < 6000 && !running; ++i) {
      running = job_of(c, jobs[0]).value("status", "") == "running";
      if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(running) << "never saw the first job running";
    kill(srv.pid, SIGKILL);
    EXPECT_EQ(srv.wait_exit(), 128 + SIGKILL);
  }
  {
    std::map<std::string, std::string> crashing = env;
    crashing["IDPHOTO_TEST_CRASH_AT"] = "after_clean_put";
    child srv({"serve"}, crashing);
    ASSERT_FALSE(srv.wait_for(listening, 120).empty()) << srv.err;
    EXPECT_EQ(srv.wait_exit(), 128 + SIGKILL) << "the fault hook killed it after a clean photo was stored: " << srv.err;
  }
  child srv({"serve"}, env);
  ASSERT_FALSE(srv.wait_for(listening, 120).empty()) << srv.err;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  std::vector<json> ended(3);
  for (int i = 0; i < 3; ++i) {
    for (int t = 0; t < 3000; ++t) {
      ended[i] = job_of(c, jobs[i]);
      const std::string st = ended[i].value("status", "");
      if (st == "done" || st == "failed" || st == "dead") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(ended[i]["status"], "done") << i << ": " << ended[i].dump();
  }
  EXPECT_GE(ended[0]["attempts"].get<int>(), 2) << "the first job ran again after the kill";
  int runs = 0;
  for (const auto& j : ended) runs += j["attempts"].get<int>();
  EXPECT_GE(runs, 5) << "3 jobs, 2 of their runs cut (the kill, the fault hook): each cut run ran again";
  for (int i = 0; i < 3; ++i) {
    auto g = c.Get("/api/id-cards/" + cards[i], auth);
    ASSERT_TRUE(g);
    const json card = body_of(g);
    EXPECT_EQ(card["photoStatus"], "clean") << card.dump();
    for (const char* k : {"rawPhotoUrl", "cleanPhotoUrl"}) {
      ASSERT_TRUE(card[k].is_string()) << k << " " << card.dump();
      const std::string url = card[k];
      auto f = c.Get(url.substr(url.find("/files/")));
      ASSERT_TRUE(f);
      EXPECT_EQ(f->status, 200) << k << " " << url;
    }
    EXPECT_NE(card["cleanPhotoUrl"].get<std::string>().find(jobs[i]), std::string::npos) << "named by its job";
  }
  // Exactly one raw and one clean file per job: the rerun replaced its own file, nothing doubled.
  const auto count = [&](const char* folder) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "files" / folder, ec))
      n += e.path().filename().string().rfind(".tmp-", 0) != 0;
    return n;
  };
  EXPECT_EQ(count("raw"), 3);
  EXPECT_EQ(count("clean"), 3);
  kill(srv.pid, SIGTERM);
  EXPECT_EQ(srv.wait_exit(), 0) << srv.err;
  EXPECT_NE(srv.err.find("SIGTERM received, stopping"), std::string::npos);
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}
