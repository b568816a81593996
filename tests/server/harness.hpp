// The real server (app::service + server::http_server) on 127.0.0.1 with a free port, over
// SQLite and a local store in a temporary directory; an HTTP client with a valid token.
#pragma once
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "app/service.hpp"
#include "server/http_server.hpp"

namespace harness {

namespace fs = std::filesystem;
inline const std::string k_secret = "test-secret-0123456789-abcdefghijklmnop";

// A port free now on 127.0.0.1 (bound to 0 and released).
int free_port();

// What the tests' fake engines return: the photo's own bytes as the "clean" result, a person
// found, half the frame kept.
idphoto::pipeline::clean_result echo_clean(std::span<const uint8_t> photo);

// An engine for tests that never reach a clean: every clean fails with internal.
idphoto::app::engine_factory no_model_engines();
// The real cleaner on models/isnet-general-fp16.onnx ($IDPHOTO_MODELS_DIR or the checkout's
// models/); the calling test fails (ADD_FAILURE) when the model file is missing.
idphoto::app::engine_factory model_engines();
std::string models_dir();

// Holds every clean of gated_engines until release(); counts the cleans that started. The
// engines return the photo unchanged (echo_clean).
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> started{0};
  void release();
};
idphoto::app::engine_factory gated_engines(gate* g);

struct server {
  fs::path dir;
  std::unique_ptr<idphoto::app::service> svc;
  std::unique_ptr<idphoto::server::http_server> http;
  int port = 0;
  std::mutex log_mu;
  std::vector<std::string> log;

  // Starts on a fresh temp dir; tweak edits the config (defaults: SQLite + local store there).
  // Fails the test (returns false) when anything does not start.
  bool start(const std::string& tag, idphoto::app::engine_factory engines,
             const std::function<void(idphoto::app::app_config&)>& tweak = nullptr);
  ~server();

  httplib::Client client() const;
  std::string token(int64_t ttl_s = 3600) const;
  httplib::Headers auth() const { return {{"Authorization", "Bearer " + token()}}; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // Files under the local store's folder ("raw" or "clean").
  std::vector<fs::path> stored(const std::string& folder) const;
  // Waits (bounded: 2 s) for a log line containing every one of parts; false when none does.
  bool logged(const std::vector<std::string>& parts);
  // Creates a card named name; returns its id ("" and a test failure otherwise).
  std::string create_card(const std::string& name);
};

// A PNG / JPEG photo made here (libvips): a colourful pattern w x h.
std::string pattern_png(int w, int h);
// The astronaut photo of python3-skimage (512 x 512), optionally resized to side px, as PNG or JPEG.
std::string astronaut(int side = 512, const char* suffix = ".png");

}  // namespace harness
