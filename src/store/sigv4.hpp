// Internal to idphoto_store: AWS Signature Version 4 query signing (presigned URLs) and the
// hashing pieces it needs. Request signing for PUT/GET/HEAD/DELETE is libcurl's (CURLOPT_AWS_SIGV4).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace idphoto::store::detail {

// Lowercase hex SHA-256 of bytes. Never fails (returns "" only if OpenSSL cannot allocate).
std::string sha256_hex(std::string_view bytes);

// AWS URI encoding (RFC 3986 unreserved characters kept, everything else %XX upper-case);
// '/' is kept when keep_slash (paths) and encoded otherwise (query values). Never fails.
std::string aws_uri_encode(std::string_view s, bool keep_slash);

// "20130524T000000Z" for a Unix time in seconds (UTC). Never fails.
std::string amz_date(std::int64_t unix_s);

struct presign_request {
  std::string scheme = "https";  // "http" or "https"
  std::string host;              // exactly as sent in Host: "bucket.s3.amazonaws.com", "127.0.0.1:9000"
  std::string path;              // absolute, NOT yet encoded: "/bucket/clean/ab….png"
  std::string region = "us-east-1";
  std::string service = "s3";
  std::string access_key_id, secret_access_key;
  std::int64_t now_unix_s = 0;  // the signing time (X-Amz-Date)
  int expiry_s = 3600;          // X-Amz-Expires, 1..604800
};

/*
 * A presigned GET URL: SigV4 with the signature in the query string (UNSIGNED-PAYLOAD,
 * SignedHeaders=host). The canonical query is the five X-Amz-* parameters in code-point
 * order, values URI-encoded; the signing key is derived from the secret by the
 * date/region/service/aws4_request HMAC chain. Pure function of its input, so a fixed
 * now_unix_s gives a fixed URL (the tests check AWS's published example). Never fails; the
 * caller validates the fields.
 */
std::string presign_get_url(const presign_request& r);

}  // namespace idphoto::store::detail
