// AWS Signature Version 4 query signing for presigned GET URLs, with SHA-256/HMAC from OpenSSL.
// Follows AWS's "Authenticating Requests: Using Query Parameters" for S3.
#include "store/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <memory>

#include "base/unique_handle.hpp"

namespace idphoto::store::detail {

namespace {

using evp_md_ctx_ptr = base::unique_handle<EVP_MD_CTX, EVP_MD_CTX_free>;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += hex[p[i] >> 4];
    out += hex[p[i] & 15];
  }
  return out;
}

// Raw HMAC-SHA256(key, data).
std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), md, &md_len))
    return {};
  return std::string(reinterpret_cast<const char*>(md), md_len);
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1)
    return {};
  return to_hex(md, md_len);
}

std::string aws_uri_encode(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string presign_get_url(const presign_request& r) {
  const std::string date_time = amz_date(r.now_unix_s);
  const std::string day = date_time.substr(0, 8);
  const std::string scope = day + "/" + r.region + "/" + r.service + "/aws4_request";
  const std::string path = aws_uri_encode(r.path, true);
  // Already in code-point order: Algorithm < Credential < Date < Expires < SignedHeaders.
  const std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + aws_uri_encode(r.access_key_id + "/" + scope, false) +
      "&X-Amz-Date=" + date_time + "&X-Amz-Expires=" + std::to_string(r.expiry_s) + "&X-Amz-SignedHeaders=host";
  const std::string canonical_request =
      "GET\n" + path + "\n" + query + "\nhost:" + r.host + "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + date_time + "\n" + scope + "\n" + sha256_hex(canonical_request);
  std::string key = hmac_sha256("AWS4" + r.secret_access_key, day);
  key = hmac_sha256(key, r.region);
  key = hmac_sha256(key, r.service);
  key = hmac_sha256(key, "aws4_request");
  const std::string sig = hmac_sha256(key, string_to_sign);
  return r.scheme + "://" + r.host + path + "?" + query +
         "&X-Amz-Signature=" + to_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

}  // namespace idphoto::store::detail
