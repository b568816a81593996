// `idphoto token` end to end (no model): the token it prints verifies with the secret, and
// --scope and --org become the scope and org claims; bad values are refused with exit 2.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <string>
#include <vector>

#include "cli/cli_run.hpp"
#include "server/jwt.hpp"

using namespace clitest;

namespace {

const std::string k_secret = "token-cli-secret-0123456789abcdefghij";

class token_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_regular_file(exe())) << "no idphoto binary at " << exe();
    dir = fresh_test_dir("idphoto-token-cli");
    ASSERT_EQ(setenv("JWT_SECRET", k_secret.c_str(), 1), 0);
  }
  void TearDown() override {
    unsetenv("JWT_SECRET");
    remove_unless_failed(dir);
  }
  run_result token(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"token", "--sub", "ops"};
    a.insert(a.end(), args.begin(), args.end());
    return run(a, dir, {}, 60);
  }
  // The claims of the token a successful run printed.
  idphoto::server::jwt_claims claims_of(const run_result& r) {
    EXPECT_EQ(r.code, 0) << shown(r);
    std::string t = r.out;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto v = idphoto::server::jwt_verify_hs256(t, k_secret, now);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.err().detail) << "\n" << shown(r);
    return v.ok() ? *v : idphoto::server::jwt_claims{};
  }
  void expect_refused(const run_result& r, const std::string& reason) {
    EXPECT_EQ(r.code, 2) << shown(r);
    EXPECT_TRUE(r.out.empty()) << "no token printed: " << shown(r);
    EXPECT_NE(r.err.find(reason), std::string::npos) << "want \"" << reason << "\"\n" << shown(r);
  }
  fs::path dir;
};

}  // namespace

TEST_F(token_cli, without_scope_or_org_the_claims_are_absent) {
  const auto c = claims_of(token({}));
  EXPECT_EQ(c.sub, "ops");
  EXPECT_FALSE(c.scope.has_value()) << "no scope claim: full access, as before scopes";
  EXPECT_FALSE(c.org.has_value());
  EXPECT_EQ(idphoto::server::granted_scopes(c), idphoto::server::k_all_scopes);
}

TEST_F(token_cli, scope_and_org_become_claims) {
  auto c = claims_of(token({"--scope", "cards:read", "--org", "Analytical Engines"}));
  ASSERT_TRUE(c.scope.has_value());
  EXPECT_EQ(*c.scope, "cards:read");
  ASSERT_TRUE(c.org.has_value());
  EXPECT_EQ(*c.org, "Analytical Engines");
  EXPECT_EQ(idphoto::server::granted_scopes(c), unsigned{idphoto::server::scope_cards_read});
  c = claims_of(token({"--scope=cards:read cards:write", "--ttl", "5m"}));
  EXPECT_EQ(c.scope.value_or(""), "cards:read cards:write");
  c = claims_of(token({"--scope", "admin"}));
  EXPECT_EQ(idphoto::server::granted_scopes(c), idphoto::server::k_all_scopes);
}

TEST_F(token_cli, bad_scope_or_org_is_refused) {
  expect_refused(token({"--scope", "cards:delete"}), "unknown scope");
  expect_refused(token({"--scope", "cards:read,cards:write"}), "unknown scope");
  expect_refused(token({"--scope", ""}), "--scope");
  expect_refused(token({"--scope", "   "}), "--scope");
  expect_refused(token({"--scope"}), "--scope needs a value");
  expect_refused(token({"--org", ""}), "--org");
  expect_refused(token({"--org", std::string(201, 'o')}), "--org");
  expect_refused(token({"--org", "a\tb"}), "control characters");
  expect_refused(token({"--org"}), "--org needs a value");
}

TEST_F(token_cli, help_names_the_options) {
  auto r = run({"token", "--help"}, dir, {}, 60);
  EXPECT_EQ(r.code, 0) << shown(r);
  for (const char* want : {"--scope", "cards:read", "cards:write", "admin", "--org", "no scope claim"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in\n" << r.out;
}
