// `idphoto token`: mints an HS256 bearer token for an operator with JWT_SECRET.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "cli/args.hpp"
#include "server/jwt.hpp"

namespace idphoto::cli {

namespace {
const char* help =
    "usage: idphoto token --sub NAME [--ttl DURATION] [--scope SCOPES] [--org ORGANIZATION]\n"
    "  prints a bearer token (JWT, HS256) signed with $JWT_SECRET\n"
    "  --sub NAME      who the token is for (an operator name)\n"
    "  --ttl DURATION  lifetime: N with s, m, h or d (default 1h; at most 365d)\n"
    "  --scope SCOPES  what it may do, space-separated: cards:read (GET the cards and their PDFs),\n"
    "                  cards:write (also create, change, delete, upload, clean; includes cards:read),\n"
    "                  admin (everything). Without --scope the token has no scope claim and may do\n"
    "                  everything, as tokens made before scopes existed (docs/api.md, Access)\n"
    "  --org ORGANIZATION  the token sees and makes only the cards whose organization is exactly\n"
    "                  this (1..200 bytes); without it, every card\n";

// Seconds of "90s", "15m", "1h", "7d", or a bare number of seconds; -1 when malformed.
long long parse_ttl_s(const std::string& s) {
  if (s.empty() || s.size() > 12) return -1;
  long long mult = 1;
  std::string digits = s;
  switch (s.back()) {
    case 's':
      mult = 1;
      digits.pop_back();
      break;
    case 'm':
      mult = 60;
      digits.pop_back();
      break;
    case 'h':
      mult = 3600;
      digits.pop_back();
      break;
    case 'd':
      mult = 86400;
      digits.pop_back();
      break;
    default:
      break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  const long long n = std::stoll(digits);
  if (n <= 0 || n > 365LL * 86400) return -1;
  const long long total = n * mult;
  return total > 365LL * 86400 ? -1 : total;
}
}  // namespace

int cmd_token(const std::vector<std::string>& argv) {
  auto a = parse_args(argv, {"--sub", "--ttl", "--scope", "--org"}, {"--help", "-h"});
  if (!a.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n(see idphoto token --help)\n", a.err().detail.c_str());
    return 2;
  }
  if (a->has("--help") || a->has("-h")) {
    std::fputs(help, stdout);
    return 0;
  }
  const std::string sub = a->get("--sub");
  if (sub.empty()) {
    std::fprintf(stderr, "idphoto: error: --sub NAME is required\n(see idphoto token --help)\n");
    return 2;
  }
  const long long ttl = parse_ttl_s(a->get("--ttl", "1h"));
  if (ttl < 0) {
    std::fprintf(stderr, "idphoto: error: --ttl must be N[s|m|h|d], from 1s to 365d\n");
    return 2;
  }
  server::jwt_claims c;
  if (a->has("--scope")) {
    if (auto s = server::parse_scope(a->get("--scope")); !s.ok()) {
      std::fprintf(stderr, "idphoto: error: --scope: %s (names: cards:read, cards:write, admin)\n",
                   s.err().detail.c_str());
      return 2;
    }
    c.scope = a->get("--scope");
  }
  if (a->has("--org")) {
    if (auto o = server::check_org(a->get("--org")); !o.ok()) {
      std::fprintf(stderr, "idphoto: error: --org: %s\n", o.err().detail.c_str());
      return 2;
    }
    c.org = a->get("--org");
  }
  std::string secret;  // read as serve reads it (trimmed), so the token verifies there
  base::read_env_string(base::process_env, "JWT_SECRET", &secret);
  if (secret.size() < 32) {
    std::fprintf(stderr, "idphoto: error: JWT_SECRET must be set to the server's secret (at least 32 bytes)\n");
    return 2;
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  c.sub = sub;
  c.iat = now;
  c.exp = now + ttl;
  auto t = server::jwt_sign_hs256(c, secret);
  if (!t.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", t.err().detail.c_str());
    return 1;
  }
  std::printf("%s\n", t->c_str());
  return 0;
}

}  // namespace idphoto::cli
