// Blob stores move bytes: a local directory by default, Cloudinary (signed upload API), S3
// (AWS Signature V4). One interface, one conformance suite for all three.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace idphoto::store {

// Keys, both backends: "<folder>/<32 lowercase hex = 128 random bits>.<ext>", folder one of
// raw, clean, card; ext one of png, jpg, webp, heic, tiff, pdf (from the content type).
struct stored {
  std::string key;  // backend's key, e.g. "clean/3f9c…e1.png"; ≥ 128 random bits, unguessable
  std::string url;  // public URL (local: public_base_url + "/files/" + key; Cloudinary: secure_url;
                    // S3: a presigned GET URL valid presign_expiry_s, or public_base_url + "/" + object)
};

// What sweep_orphans did. Names that are not keys (temp files, strays) are in neither count.
struct sweep_report {
  std::size_t removed = 0;  // unreferenced keys at least min_age_s old, now gone
  std::size_t kept = 0;     // keys left: referenced, younger than min_age_s, or whose removal failed
};

// Every method is safe to call from many threads at once.
class blob_store {
 public:
  virtual ~blob_store() = default;
  // Durable before it returns (local: temp file + fsync + rename). folder is "raw", "clean" or
  // "card"; content_type one of image/png, image/jpeg, image/webp, image/heic, image/tiff,
  // application/pdf; empty bytes are refused (invalid_argument for all three).
  // name: "" = a new random one; else 32 lowercase hex chars the caller chose (a job's id), and a
  // put with the same folder, name and type replaces the blob: a job run twice leaves one file.
  // io / unavailable / timeout / forbidden / corrupt on failure.
  virtual base::result<stored> put(std::string_view bytes, const std::string& content_type, const std::string& folder,
                                   const std::string& name = "") = 0;
  // not_found when absent; invalid_argument for a key that is not one this store makes.
  virtual base::result<std::string> get(const std::string& key) = 0;
  // Idempotent: removing an absent key succeeds. invalid_argument for a bad key.
  virtual base::result<void> remove(const std::string& key) = 0;
  // false when absent; invalid_argument for a bad key; io / unavailable / timeout otherwise.
  virtual base::result<bool> exists(const std::string& key) = 0;
  // unavailable when the backend cannot be reached / the directory is not writable.
  virtual base::result<void> ping() = 0;
  virtual std::string backend_name() const = 0;  // "local", "cloudinary" or "s3"
  /* The orphan sweep: removes every key of every folder (raw, clean, card) that is not in
   * `referenced` and was stored at least min_age_s ago (the age is what keeps a put whose
   * record is not written yet, on this or another instance, from being swept). Temp files are
   * not keys and are left to sweep_temp_files. invalid_argument for a negative min_age_s; io
   * when a folder exists but cannot be listed. Local only: Cloudinary and S3 answer unsupported
   * (listing their keys is not implemented: the Admin API's resource list, ListObjectsV2), so
   * their orphans stay until removed by hand. */
  virtual base::result<sweep_report> sweep_orphans(const std::set<std::string>& referenced, int min_age_s) = 0;
};

struct local_config {
  std::string dir = "data/files";  // IDPHOTO_STORE_DIR; created if missing
  std::string public_base_url;     // IDPHOTO_PUBLIC_URL, e.g. "http://localhost:8080"
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
  std::string folder = "idphoto";                           // IDPHOTO_CLOUDINARY_FOLDER
  std::string api_base_url = "https://api.cloudinary.com";  // tests point it at a stand-in
  // Where get/exists read the bytes back: {delivery_base_url}/{cloud}/image/upload/v1/{public_id}.{ext}
  std::string delivery_base_url = "https://res.cloudinary.com";  // tests point it at a stand-in
  int timeout_ms = 30000;                                        // whole request
};
// Parses "cloudinary://API_KEY:API_SECRET@CLOUD_NAME"; invalid_argument naming what is wrong.
base::result<cloudinary_config> cloudinary_from_url(const std::string& url);
// invalid_argument when a field is missing or malformed (names which one, never the secret).
base::result<std::unique_ptr<blob_store>> make_cloudinary_store(const cloudinary_config& c);
// The documented request signature: hex SHA-1 of "k1=v1&k2=v2…" (keys sorted, params named
// file, api_key, resource_type, cloud_name and signature left out) followed by api_secret.
// Never fails.
std::string cloudinary_signature(const std::map<std::string, std::string>& params, const std::string& api_secret);

/*
 * S3 (AWS S3 and compatibles: tested against OpenStack Swift's s3api). Object name =
 * prefix + key, in one bucket; put = PUT, get = GET, exists = HEAD, remove = DELETE (S3
 * answers 204 for an absent object, so remove is idempotent), ping = HEAD of the bucket (proves
 * the endpoint, the bucket and the credentials). Requests are signed by libcurl
 * (CURLOPT_AWS_SIGV4) with x-amz-content-sha256 = the body's SHA-256 set by us, so the server
 * also checks the payload. The stored url is a presigned GET URL (the bucket stays private:
 * these are people's faces) unless public_base_url is set. 401/403 → forbidden, 404 on get →
 * not_found, 400 BadDigest → corrupt, 429/500/503 and connection failures → unavailable,
 * deadline → timeout. See s3_store.cpp.
 */
enum class s3_addressing {
  path,          // {endpoint}/{bucket}/{object}: any endpoint, IP addresses, dotted bucket names
  virtual_host,  // {scheme}://{bucket}.{endpoint host}/{object}: AWS's preferred form
};
struct s3_config {
  std::string endpoint;                            // IDPHOTO_S3_ENDPOINT "http(s)://host[:port]"; empty = AWS,
                                                   // https://s3.{region}.amazonaws.com
  std::string region = "us-east-1";                // AWS_REGION; the SigV4 scope (Swift: its s3api `location`)
  std::string bucket;                              // IDPHOTO_S3_BUCKET; must exist (we never create it)
  std::string access_key_id;                       // AWS_ACCESS_KEY_ID
  std::string secret_access_key;                   // AWS_SECRET_ACCESS_KEY; never sent, logged or in an error
  std::string prefix;                              // IDPHOTO_S3_PREFIX, e.g. "idphoto/" (object = prefix + key)
  s3_addressing addressing = s3_addressing::path;  // IDPHOTO_S3_ADDRESSING; AWS endpoint: virtual
  int presign_expiry_s = 3600;                     // IDPHOTO_S3_PRESIGN_EXPIRY_S; 1..604800 (SigV4's maximum, 7 d)
  std::string public_base_url;                     // IDPHOTO_S3_PUBLIC_URL; set → url = it + "/" + object, no presign
  int timeout_ms = 30000;                          // whole request
};
// Parses "s3://ACCESS_KEY:SECRET@HOST[:PORT]/BUCKET[/PREFIX/]?region=R&scheme=https|http&
// style=path|virtual&presign_expiry_s=N" (IDPHOTO_S3_URL; key and secret percent-decoded;
// HOST "s3.amazonaws.com" or empty-port AWS names keep the AWS defaults). invalid_argument naming
// what is wrong, never the secret.
base::result<s3_config> s3_from_url(const std::string& url);
// invalid_argument when a field is missing or malformed (names which one, never the secret).
base::result<std::unique_ptr<blob_store>> make_s3_store(const s3_config& c);
// A presigned GET URL for key, signed at now_unix_s, valid expiry_s (1..604800) — for handing
// out fresh URLs when a stored one may have expired. invalid_argument for a bad key or expiry,
// or a config make_s3_store would refuse.
base::result<std::string> s3_presigned_get_url(const s3_config& c, const std::string& key, std::int64_t now_unix_s,
                                               int expiry_s);

}  // namespace idphoto::store
