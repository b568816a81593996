// The real Cloudinary was not reachable from here: this is a local stand-in that implements
// the documented Upload API (POST /v1_1/{cloud}/image/upload and /destroy, multipart,
// SHA-1 request signatures, 1-hour timestamp window) and delivery URLs
// ({cloud}/image/upload/v{version}/{public_id}.{format}), with Cloudinary-style error bodies
// {"error":{"message":"…"}}. It checks every request before acting on it.
#include "store/cloudinary_standin.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace idphoto::store::test {

namespace {

void json_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", {{"message", message}}}}.dump(), "application/json");
}

std::string sha1_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    out += buf;
  }
  return out;
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string cloudinary_standin::sign(const std::map<std::string, std::string>& fields, const std::string& secret) {
  // Documented rule: every parameter except file, cloud_name, resource_type and api_key
  // (and the signature itself), sorted by name, "k=v" joined with '&', secret appended.
  std::string s;
  for (const auto& [k, v] : fields) {
    if (k == "file" || k == "cloud_name" || k == "resource_type" || k == "api_key" || k == "signature") continue;
    if (!s.empty()) s += "&";
    s += k;
    s += "=";
    s += v;
  }
  return sha1_hex(s + secret);
}

cloudinary_standin::cloudinary_standin(std::string cloud_name, std::string api_key, std::string api_secret)
    : cloud_(std::move(cloud_name)),
      key_(std::move(api_key)),
      secret_(std::move(api_secret)),
      svr_(std::make_unique<httplib::Server>()) {
  install_routes();
}

cloudinary_standin::~cloudinary_standin() { stop(); }

bool cloudinary_standin::start() {
  port_ = svr_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return false;
  thread_ = std::thread([this] { svr_->listen_after_bind(); });
  // The socket already listens (bind_to_any_port); wait for the accept loop so stop() works.
  while (!svr_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

void cloudinary_standin::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (svr_) svr_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string cloudinary_standin::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::size_t cloudinary_standin::stored_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return assets_.size();
}

void cloudinary_standin::delay() {
  int ms = delay_ms_;
  if (ms <= 0) return;
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
}

void cloudinary_standin::install_routes() {
  // Records whether the secret appeared anywhere in a request; runs for every request.
  svr_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    auto has = [this](const std::string& s) { return s.find(secret_) != std::string::npos; };
    bool seen = has(req.path) || has(req.body) || has(req.target);
    for (const auto& [k, v] : req.headers) seen = seen || has(k) || has(v);
    for (const auto& [k, f] : req.files) seen = seen || has(f.content) || has(f.filename);
    for (const auto& [k, v] : req.params) seen = seen || has(v);
    if (seen) saw_secret_ = true;
    return httplib::Server::HandlerResponse::Unhandled;
  });

  /*
   * Shared checks for a signed Upload API call, in the order the documented API applies
   * them: known cloud, multipart body, each field once, api_key/timestamp/signature present,
   * known api_key, timestamp within an hour, signature recomputed over the other fields.
   * Returns false (and has filled res) when the request is refused.
   */
  auto check_signed = [this](const httplib::Request& req, httplib::Response& res,
                             std::map<std::string, std::string>* fields) {
    auto refuse = [&](int status, const std::string& msg) {
      ++rejected_;
      json_error(res, status, msg);
      return false;
    };
    if (req.matches[1].str() != cloud_) return refuse(401, "Invalid cloud_name " + req.matches[1].str());
    if (!req.is_multipart_form_data()) return refuse(400, "Expected multipart/form-data");
    for (const auto& [name, part] : req.files) {
      if (fields->count(name)) return refuse(400, "Duplicate parameter - " + name);
      (*fields)[name] = part.content;
    }
    for (const char* required : {"api_key", "timestamp", "signature"})
      if (!fields->count(required)) return refuse(400, std::string("Missing required parameter - ") + required);
    if ((*fields)["api_key"] != key_) return refuse(401, "Unknown API key " + (*fields)["api_key"]);
    const std::string& ts = (*fields)["timestamp"];
    if (!all_digits(ts)) return refuse(400, "Invalid timestamp");
    long long age_s = static_cast<long long>(std::time(nullptr)) - std::atoll(ts.c_str());
    if (age_s > 3600 || age_s < -3600)
      return refuse(400,
                    "Stale request - reported time is " + ts + " which is more than 1 hour away from the current time");
    std::map<std::string, std::string> to_sign = *fields;
    std::string expected = sign(to_sign, secret_);
    if ((*fields)["signature"] != expected) {
      std::string s;
      for (const auto& [k, v] : to_sign) {
        if (k == "file" || k == "api_key" || k == "signature" || k == "resource_type" || k == "cloud_name") continue;
        s += (s.empty() ? "" : "&") + k + "=" + v;
      }
      return refuse(401, "Invalid Signature " + (*fields)["signature"] + ". String to sign - '" + s + "'.");
    }
    return true;
  };

  // Canned failures shared by every route; true when the request was answered.
  auto canned = [this](httplib::Response& res) {
    if (mode_ == mode::server_error) {
      json_error(res, 500, "General Error");
      return true;
    }
    if (mode_ == mode::rate_limited) {
      json_error(res, 420, "Rate Limit Exceeded");
      return true;
    }
    return false;
  };

  svr_->Post(R"(/v1_1/([^/]+)/image/upload)", [this, check_signed, canned](const httplib::Request& req,
                                                                           httplib::Response& res) {
    delay();
    if (canned(res)) return;
    std::map<std::string, std::string> fields;
    if (!check_signed(req, res, &fields)) return;
    auto file = req.files.find("file");
    if (file == req.files.end() || file->second.content.empty()) {
      ++rejected_;
      return json_error(res, 400, "Missing required parameter - file");
    }
    if (!fields.count("public_id") || fields["public_id"].empty()) {
      ++rejected_;  // the real API would invent one; our client must always send it
      return json_error(res, 400, "Missing required parameter - public_id");
    }
    const std::string public_id = fields["public_id"];
    std::string format = file->second.filename.substr(file->second.filename.rfind('.') + 1);
    if (mode_ == mode::malformed_json) {
      res.set_content("{\"public_id\": \"" + public_id + "\", \"secure_url\": ", "application/json");
      return;
    }
    bool existing = false;
    long long version = static_cast<long long>(std::time(nullptr));
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = assets_.find(public_id);
      if (it != assets_.end() && fields["overwrite"] != "true") {
        existing = true;
        version = it->second.version;
        format = it->second.format;
      } else {
        assets_[public_id] = asset{file->second.content, file->second.content_type, format, version};
      }
    }
    nlohmann::json j = {{"public_id", public_id},   {"version", version}, {"format", format},
                        {"resource_type", "image"}, {"type", "upload"},   {"bytes", file->second.content.size()}};
    if (existing) j["existing"] = true;
    const std::string path =
        "/" + cloud_ + "/image/upload/v" + std::to_string(version) + "/" + public_id + "." + format;
    if (mode_ != mode::no_secure_url) j["secure_url"] = base_url() + path;
    j["url"] = base_url() + path;
    res.set_content(j.dump(), "application/json");
  });

  svr_->Post(R"(/v1_1/([^/]+)/image/destroy)",
             [this, check_signed, canned](const httplib::Request& req, httplib::Response& res) {
               delay();
               if (canned(res)) return;
               std::map<std::string, std::string> fields;
               if (!check_signed(req, res, &fields)) return;
               if (!fields.count("public_id") || fields["public_id"].empty()) {
                 ++rejected_;
                 return json_error(res, 400, "Missing required parameter - public_id");
               }
               if (mode_ == mode::malformed_json) return res.set_content("<html>oops", "text/html");
               bool erased;
               {
                 std::lock_guard<std::mutex> lk(mu_);
                 erased = assets_.erase(fields["public_id"]) > 0;
               }
               res.set_content(nlohmann::json{{"result", erased ? "ok" : "not found"}}.dump(), "application/json");
             });

  // Delivery: /{cloud}/image/upload/v{digits}/{public_id}.{format}; HEAD is served by httplib
  // from the GET handler without a body.
  svr_->Get(R"(/([^/]+)/image/upload/v[0-9]+/(.+)\.([a-z]+))",
            [this, canned](const httplib::Request& req, httplib::Response& res) {
              delay();
              if (canned(res)) return;
              if (req.matches[1].str() != cloud_) return json_error(res, 404, "Resource not found");
              std::lock_guard<std::mutex> lk(mu_);
              auto it = assets_.find(req.matches[2].str());
              if (it == assets_.end()) {
                res.status = 404;
                res.set_header("X-Cld-Error", "Resource not found - " + req.matches[2].str());
                return;
              }
              res.set_content(it->second.bytes, it->second.content_type.c_str());
            });
}

}  // namespace idphoto::store::test
