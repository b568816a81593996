// The in-process test server and its helpers.
#include "harness.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vips/vips.h>

#include <chrono>
#include <thread>
#include <random>

#include "image/gen.hpp"
#include "server/jwt.hpp"

namespace harness {

using namespace idphoto;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

namespace {
class failing_engine final : public app::clean_engine {
 public:
  base::result<pipeline::clean_result> clean(std::span<const uint8_t>, const pipeline::clean_options&) override {
    return base::make_error(base::errc::internal, "no model in this test");
  }
};
}  // namespace

pipeline::clean_result echo_clean(std::span<const uint8_t> photo) {
  pipeline::clean_result r;
  r.bytes.assign(photo.begin(), photo.end());
  r.person = true;
  r.coverage = 0.5;
  return r;
}

app::engine_factory no_model_engines() {
  return []() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new failing_engine());
  };
}

std::string models_dir() {
  if (const char* e = std::getenv("IDPHOTO_MODELS_DIR"); e && *e) return e;
  return std::string(IDPHOTO_SOURCE_DIR) + "/models";
}

app::engine_factory model_engines() {
  const std::string model = models_dir() + "/isnet-general-fp16.onnx";
  if (!fs::is_regular_file(model))
    ADD_FAILURE() << model << " is missing: run `make models` (model tests fail, never skip)";
  pipeline::pipeline_config pc;
  pc.models_dir = models_dir();
  return app::cleaner_factory(pc);
}

bool server::start(const std::string& tag, app::engine_factory engines,
                   const std::function<void(app::app_config&)>& tweak) {
  gen::init();
  dir = gen::temp_dir("server-" + tag);
  auto parsed = app::app_config::parse_env([](const std::string&) { return std::nullopt; });
  auto& c = parsed.cfg;
  c.jwt_secret = k_secret;
  c.data_dir = dir.string();
  c.bind_host = "127.0.0.1";
  c.port = free_port();
  c.pipeline.models_dir = models_dir();
  c.pipeline.n_threads = 2;
  if (tweak) tweak(c);
  auto svc_r = app::service::create(c, engines);
  if (!svc_r.ok()) {
    ADD_FAILURE() << "service: " << svc_r.err().to_string();
    return false;
  }
  svc = std::move(*svc_r);
  auto rec = svc->recover();
  if (!rec.ok()) {
    ADD_FAILURE() << "recover: " << rec.err().to_string();
    return false;
  }
  http = std::make_unique<idphoto::server::http_server>(*svc, [this](const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.push_back(line);
  });
  auto p = http->bind();
  if (!p.ok()) {
    ADD_FAILURE() << "bind: " << p.err().detail;
    return false;
  }
  port = *p;
  http->start_background();
  return true;
}

server::~server() {
  http.reset();
  svc.reset();
  std::error_code ec;
  if (!dir.empty() && !::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}

httplib::Client server::client() const {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  c.set_write_timeout(60, 0);
  return c;
}

std::string server::token(int64_t ttl_s) const {
  idphoto::server::jwt_claims c;
  c.sub = "test";
  c.exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      ttl_s;
  return *idphoto::server::jwt_sign_hs256(c, k_secret);
}

void gate::release() {
  std::lock_guard<std::mutex> l(mu);
  open = true;
  cv.notify_all();
}

namespace {
class gated_engine final : public idphoto::app::clean_engine {
 public:
  explicit gated_engine(gate* g) : g_(g) {}
  idphoto::base::result<idphoto::pipeline::clean_result> clean(std::span<const uint8_t> b,
                                                               const idphoto::pipeline::clean_options&) override {
    ++g_->started;
    std::unique_lock<std::mutex> l(g_->mu);
    g_->cv.wait(l, [&] { return g_->open; });
    return echo_clean(b);
  }

 private:
  gate* g_;
};
}  // namespace

idphoto::app::engine_factory gated_engines(gate* g) {
  return [g]() -> idphoto::base::result<std::unique_ptr<idphoto::app::clean_engine>> {
    return std::unique_ptr<idphoto::app::clean_engine>(new gated_engine(g));
  };
}

bool server::logged(const std::vector<std::string>& parts) {
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard<std::mutex> lock(log_mu);
      for (const auto& line : log) {
        bool all = true;
        for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
        if (all) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::vector<fs::path> server::stored(const std::string& folder) const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "files" / folder, ec))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  return out;
}

std::string server::create_card(const std::string& name) {
  auto cl = client();
  auto r = cl.Post("/api/id-cards", auth(), R"({"fullName":")" + name + R"("})", "application/json");
  if (!r || r->status != 201) {
    ADD_FAILURE() << "create card: " << (r ? r->status : -1) << " " << (r ? r->body : httplib::to_string(r.error()));
    return "";
  }
  auto j = r->body;
  const auto at = j.find("\"id\":\"");
  return at == std::string::npos ? "" : j.substr(at + 6, 32);
}

std::string pattern_png(int w, int h) {
  gen::init();
  auto b = gen::save(gen::pattern(w, h), ".png");
  return std::string(b.begin(), b.end());
}

std::string astronaut(int side, const char* suffix) {
  gen::init();
  const char* path = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
  VipsImage* v = vips_image_new_from_file(path, nullptr);
  if (!v) {
    ADD_FAILURE() << path << " missing (Debian package python3-skimage)";
    vips_error_clear();
    return "";
  }
  VipsImage* m = vips_image_copy_memory(v);
  g_object_unref(v);
  image::image im{image::vips_image_ptr(m)};
  if (side != 512) {
    VipsImage* out = nullptr;
    if (vips_resize(im.v.get(), &out, double(side) / 512.0, nullptr) != 0) {
      ADD_FAILURE() << vips_error_buffer();
      return "";
    }
    im = image::image{image::vips_image_ptr(out)};
  }
  auto b = gen::save(im, suffix);
  return std::string(b.begin(), b.end());
}

}  // namespace harness
