// config/idphoto.example.env against the key tables (app::env_keys()): every key documented,
// every documented key known, and every "# range: LO..HI" line equal to the table's range.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "app/config.hpp"

using namespace idphoto;

namespace {

// Documented in the file, not read by the server yet: the S3 store's keys, which the file
// marks "STATUS: ... does not read these keys yet" (docs/deploy.md, "Wiring plan"). When the
// wiring lands they go into a table and out of this list (the test below insists).
const std::set<std::string> k_documented_not_read = {"IDPHOTO_S3_URL",
                                                     "AWS_ACCESS_KEY_ID",
                                                     "AWS_SECRET_ACCESS_KEY",
                                                     "AWS_REGION",
                                                     "IDPHOTO_S3_BUCKET",
                                                     "IDPHOTO_S3_ENDPOINT",
                                                     "IDPHOTO_S3_ADDRESSING",
                                                     "IDPHOTO_S3_PREFIX",
                                                     "IDPHOTO_S3_PRESIGN_EXPIRY_S",
                                                     "IDPHOTO_S3_PUBLIC_URL"};

struct documented_key {
  int line = 0;
  std::vector<std::string> comments;  // the comment block above it (shared by a group of keys)
};

struct example_file {
  std::string text;
  std::map<std::string, documented_key> keys;  // from lines "KEY=..." and "# KEY=..."
};

example_file read_example() {
  example_file f;
  std::ifstream in(std::string(IDPHOTO_SOURCE_DIR) + "/config/idphoto.example.env");
  EXPECT_TRUE(in.good()) << "cannot open config/idphoto.example.env";
  std::stringstream ss;
  ss << in.rdbuf();
  f.text = ss.str();
  const std::regex key_line(R"(^(# )?([A-Z][A-Z0-9_]*)=.*$)");
  std::istringstream lines(f.text);
  std::string line;
  std::vector<std::string> block;
  bool previous_was_key = false;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, key_line)) {
      EXPECT_EQ(f.keys.count(m[2]), 0u) << m[2] << " documented twice (line " << n << ")";
      f.keys[m[2]] = {n, block};
      previous_was_key = true;
      continue;
    }
    if (previous_was_key) block.clear();  // a new block starts after a key (or group of keys)
    previous_was_key = false;
    if (line.rfind("#", 0) == 0) block.push_back(line);
    else block.clear();
  }
  return f;
}

bool numeric(base::env_kind k) {
  return k == base::env_kind::integer || k == base::env_kind::bytes || k == base::env_kind::duration_ms;
}

TEST(env_doc, every_key_of_the_tables_is_documented) {
  const auto f = read_example();
  for (const auto& k : app::env_keys()) {
    EXPECT_EQ(f.keys.count(k.name), 1u) << k.name
                                        << " is read but not in config/idphoto.example.env (as KEY= or # KEY=)";
    EXPECT_NE(std::string(k.doc), "") << k.name << " has no doc line in its table";
  }
}

TEST(env_doc, every_documented_key_is_read) {
  const auto f = read_example();
  for (const auto& [name, where] : f.keys) {
    if (k_documented_not_read.count(name)) continue;
    EXPECT_NE(base::find_env_key(app::env_keys(), name), nullptr)
        << name << " (line " << where.line << ") is documented but in no key table";
  }
  for (const auto& name : k_documented_not_read) {
    EXPECT_EQ(base::find_env_key(app::env_keys(), name), nullptr)
        << name << " is read now: take it out of k_documented_not_read";
    EXPECT_EQ(f.keys.count(name), 1u) << name << " is no longer documented: take it out of k_documented_not_read";
  }
  // Mentions in the prose too: every IDPHOTO_ name the file uses is a real key ("IDPHOTO_MAX_IMAGE_*"
  // style wildcards aside).
  const std::regex mention(R"(IDPHOTO_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*))");
  for (auto it = std::sregex_iterator(f.text.begin(), f.text.end(), mention); it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    if (k_documented_not_read.count(name)) continue;
    EXPECT_NE(base::find_env_key(app::env_keys(), name), nullptr) << name << " is mentioned but is no key";
  }
}

TEST(env_doc, every_range_line_is_the_tables_range) {
  const auto f = read_example();
  const std::regex range_line(R"(^# range: (-?[0-9]+)\.\.(-?[0-9]+)( .*)?$)");
  for (const auto& k : app::env_keys()) {
    auto it = f.keys.find(k.name);
    if (it == f.keys.end()) continue;  // reported above
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (const auto& c : it->second.comments) {
      std::smatch m;
      if (std::regex_match(c, m, range_line)) ranges.emplace_back(std::stoll(m[1]), std::stoll(m[2]));
      else
        EXPECT_EQ(c.find("range:"), std::string::npos)
            << k.name << ": a range line not of the form '# range: LO..HI': " << c;
    }
    if (!numeric(k.kind)) {
      EXPECT_TRUE(ranges.empty()) << k.name << " takes no number but its block states a range";
      continue;
    }
    ASSERT_EQ(ranges.size(), 1u) << k.name << ": its comment block needs exactly one '# range: " << k.lo << ".." << k.hi
                                 << "'";
    EXPECT_EQ(ranges[0], std::make_pair(k.lo, k.hi))
        << k.name << ": the file's range differs from the table's; write '# range: " << k.lo << ".." << k.hi << "'";
  }
}

}  // namespace
