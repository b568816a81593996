// Blob stores move bytes: a local directory by default, Cloudinary (signed upload API).
// One interface, one conformance suite for both.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace idphoto::store {

// Keys, both backends: "<folder>/<32 lowercase hex = 128 random bits>.<ext>", folder one of
// raw, clean, card; ext one of png, jpg, webp, heic, tiff, pdf (from the content type).
struct stored {
  std::string key;  // backend's key, e.g. "clean/3f9c…e1.png"; ≥ 128 random bits, unguessable
  std::string url;  // public URL (local: public_base_url + "/files/" + key; Cloudinary: secure_url)
};

// Every method is safe to call from many threads at once.
class blob_store {
 public:
  virtual ~blob_store() = default;
  // Durable before it returns (local: temp file + fsync + rename). folder is "raw", "clean" or
  // "card"; content_type one of image/png, image/jpeg, image/webp, image/heic, image/tiff,
  // application/pdf; empty bytes are refused (invalid_argument for all three).
  // io / unavailable / timeout / forbidden / corrupt on failure.
  virtual base::result<stored> put(std::string_view bytes, const std::string& content_type,
                                   const std::string& folder) = 0;
  // not_found when absent; invalid_argument for a key that is not one this store makes.
  virtual base::result<std::string> get(const std::string& key) = 0;
  // Idempotent: removing an absent key succeeds. invalid_argument for a bad key.
  virtual base::result<void> remove(const std::string& key) = 0;
  // false when absent; invalid_argument for a bad key; io / unavailable / timeout otherwise.
  virtual base::result<bool> exists(const std::string& key) = 0;
  // unavailable when the backend cannot be reached / the directory is not writable.
  virtual base::result<void> ping() = 0;
  virtual std::string backend_name() const = 0;  // "local" or "cloudinary"
};

struct local_config {
  std::string dir = "data/files";        // IDPHOTO_STORE_DIR; created if missing
  std::string public_base_url;           // IDPHOTO_PUBLIC_URL, e.g. "http://localhost:8080"
};
// io when the directory cannot be created or written.
base::result<std::unique_ptr<blob_store>> make_local_store(const local_config& c);
// For the /files/ route: the absolute path of a key's file; invalid_argument for anything that
// is not exactly a key this store makes (no "..", no slashes beyond folder/, no NUL);
// not_found when missing.
base::result<std::string> local_file_path(const local_config& c, const std::string& key);
// Removes the temp files a killed process left in dir/{raw,clean,card} (".tmp-*" names, never a
// final key) that are at least min_age_s old; call at startup. Returns how many were removed;
// io when a folder exists but cannot be listed. A missing dir or folder is not an error (0).
base::result<std::size_t> sweep_temp_files(const std::string& dir, int min_age_s = 0);

// Cloudinary: key "<folder>/<hex>.<ext>" ↔ public_id "<config folder>/<folder>/<hex>"
// (resource_type image, PDFs included); get = GET and exists = HEAD of the delivery URL;
// remove = signed destroy (invalidate=true; "not found" is success); ping = TCP+TLS connect to
// api_base_url only (no credentials check). 401/403 → forbidden, 420/429/5xx/connection →
// unavailable, deadline → timeout, unparseable response → corrupt. See cloudinary_store.cpp.
struct cloudinary_config {
  std::string cloud_name, api_key, api_secret;
  std::string folder = "idphoto";                       // IDPHOTO_CLOUDINARY_FOLDER
  std::string api_base_url = "https://api.cloudinary.com";  // tests point it at a stand-in
  // Where get/exists read the bytes back: {delivery_base_url}/{cloud}/image/upload/v1/{public_id}.{ext}
  std::string delivery_base_url = "https://res.cloudinary.com";  // tests point it at a stand-in
  int timeout_ms = 30000;                               // whole request
};
// Parses "cloudinary://API_KEY:API_SECRET@CLOUD_NAME"; invalid_argument naming what is wrong.
base::result<cloudinary_config> cloudinary_from_url(const std::string& url);
// invalid_argument when a field is missing or malformed (names which one, never the secret).
base::result<std::unique_ptr<blob_store>> make_cloudinary_store(const cloudinary_config& c);
// The documented request signature: hex SHA-1 of "k1=v1&k2=v2…" (keys sorted, params named
// file, api_key, resource_type, cloud_name and signature left out) followed by api_secret.
// Never fails.
std::string cloudinary_signature(const std::map<std::string, std::string>& params,
                                 const std::string& api_secret);

}  // namespace idphoto::store
