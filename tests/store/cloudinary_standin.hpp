// A local stand-in for Cloudinary's Upload API and delivery URLs, for tests only.
// The real Cloudinary was not reachable from where this was written and tested: this server
// implements the documented behaviour (signed multipart upload, destroy, delivery by URL) and
// checks requests the way the documented API does, but it is not Cloudinary.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace idphoto::store::test {

class cloudinary_standin {
 public:
  enum class mode {
    normal,
    malformed_json,  // upload/destroy answer 200 with a body that is not JSON
    no_secure_url,   // upload answers 200 with JSON lacking secure_url
    server_error,    // every request answers 500 with a Cloudinary-style error body
    rate_limited,    // every request answers 420 (Cloudinary's rate-limit status)
  };

  cloudinary_standin(std::string cloud_name, std::string api_key, std::string api_secret);
  ~cloudinary_standin();
  cloudinary_standin(const cloudinary_standin&) = delete;
  cloudinary_standin& operator=(const cloudinary_standin&) = delete;

  // Binds 127.0.0.1 on a free port and serves on a thread; false if it cannot bind.
  bool start();
  // Stops serving (wakes any delayed handler); idempotent.
  void stop();
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  void set_mode(mode m) { mode_ = m; }
  void set_delay_ms(int ms) { delay_ms_ = ms; }  // applied before answering every request

  std::size_t stored_count() const;
  int requests_rejected() const { return rejected_; }  // 4xx answers from the checks
  // True if any request carried the api_secret anywhere (path, headers, body, form fields).
  bool saw_secret() const { return saw_secret_; }

  // The signature the stand-in expects: its own implementation of the documented rule
  // (independent of the client's), exposed so tests can craft requests by hand.
  static std::string sign(const std::map<std::string, std::string>& fields, const std::string& secret);

 private:
  struct asset {
    std::string bytes, content_type, format;
    long long version = 0;
  };
  void install_routes();
  void delay();

  std::string cloud_, key_, secret_;
  std::unique_ptr<httplib::Server> svr_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<mode> mode_{mode::normal};
  std::atomic<int> delay_ms_{0};
  std::atomic<int> rejected_{0};
  std::atomic<bool> saw_secret_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, asset> assets_;  // by public_id
};

}  // namespace idphoto::store::test
