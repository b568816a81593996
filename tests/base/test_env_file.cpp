// base::read_env_int (every error collected, bounds, unset and empty keys) and
// base::read_file (limits, missing files, folders, empty files).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "base/env.hpp"
#include "base/read_file.hpp"

using namespace idphoto;

namespace {

TEST(env, read_env_int) {
  std::map<std::string, std::string> vars = {{"OK", "42"},    {"NEG", "-7"},     {"EMPTY", ""},
                                             {"WORD", "ten"}, {"TAIL", "12abc"}, {"BIG", "99999999999999999999"},
                                             {"HIGH", "101"}};
  const base::env_lookup env = [&](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  std::vector<std::string> errors;
  int64_t v = 5;
  base::read_env_int(env, "OK", 0, 100, &v, &errors);
  EXPECT_EQ(v, 42);
  base::read_env_int(env, "NEG", -10, 0, &v, &errors);
  EXPECT_EQ(v, -7);
  base::read_env_int(env, "UNSET", 0, 100, &v, &errors);
  base::read_env_int(env, "EMPTY", 0, 100, &v, &errors);
  EXPECT_EQ(v, -7);  // left alone
  EXPECT_TRUE(errors.empty());
  for (const char* k : {"WORD", "TAIL", "BIG", "HIGH"}) base::read_env_int(env, k, 0, 100, &v, &errors);
  EXPECT_EQ(v, -7);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].rfind("WORD: expected an integer", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1].rfind("TAIL: expected an integer", 0), 0u) << errors[1];
  EXPECT_EQ(errors[2].rfind("BIG: expected an integer", 0), 0u) << errors[2];
  EXPECT_EQ(errors[3], "HIGH: must be in 0..100, got 101");
  ::setenv("IDPHOTO_TEST_ENV_KEY", "3", 1);
  EXPECT_EQ(base::process_env("IDPHOTO_TEST_ENV_KEY"), std::optional<std::string>("3"));
  ::unsetenv("IDPHOTO_TEST_ENV_KEY");
  EXPECT_FALSE(base::process_env("IDPHOTO_TEST_ENV_KEY").has_value());
}

TEST(read_file, limits_and_failures) {
  char tmpl[] = "/tmp/idphoto-base-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/ten") << "0123456789";
  std::ofstream(dir + "/empty");
  auto ok = base::read_file(dir + "/ten", 10);
  ASSERT_TRUE(ok.ok()) << ok.err().to_string();
  EXPECT_EQ(std::string(ok->begin(), ok->end()), "0123456789");
  auto over = base::read_file(dir + "/ten", 9);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.err().code, base::errc::too_large);
  EXPECT_EQ(over.err().detail, "file is 10 bytes, over the limit of 9");
  auto empty = base::read_file(dir + "/empty", 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(base::read_file(dir + "/missing", 10).err().code, base::errc::not_found);
  EXPECT_EQ(base::read_file(dir, 10).err().code, base::errc::io);
  EXPECT_EQ(base::read_file("", 10).err().code, base::errc::not_found);
  std::filesystem::remove_all(dir);
}

}  // namespace
