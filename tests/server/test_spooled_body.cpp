// The spooled body (POST /api/batches): the same parts as parse_multipart for the same bodies
// (good, truncated, hostile), a file part copied out across read windows, the per-part limits,
// and no file left in the folder once the body is gone.
#include "server/spooled_body.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using idphoto::base::errc;
using idphoto::server::parse_multipart;
using idphoto::server::spool_policy;
using idphoto::server::spooled_body;

namespace {

const std::string k_type = "multipart/form-data; boundary=XyZ";

std::string part(const std::string& name, const std::string& content, const std::string& extra = "") {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"" + extra + "\r\n\r\n" + content + "\r\n";
}

fs::path fresh_dir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("idphoto-spool-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::unique_ptr<spooled_body> spool(const fs::path& dir, const std::string& body, size_t chunk = 7) {
  auto b = spooled_body::create(dir.string());
  EXPECT_TRUE(b.ok());
  if (!b.ok()) return nullptr;
  for (size_t i = 0; i < body.size(); i += chunk)
    EXPECT_TRUE((*b)->append(body.data() + i, std::min(chunk, body.size() - i)).ok());
  return std::move(*b);
}

std::string slurp(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  std::string s;
  if (!f) return s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

// Every body parse_multipart has an answer for gets the same one here (no file part involved).
TEST(spooled_body, agrees_with_parse_multipart) {
  const fs::path dir = fresh_dir("agree");
  const std::string bin("\x00\r\n--X\xff", 8);
  const std::vector<std::string> bodies = {
      "preamble\r\n" + part("bg", "white") + part("photo", bin, "; filename=\"a.png\"") + "--XyZ--\r\nepilogue",
      part("a", "1") + "--XyZ--",
      part("a", "") + part("b", "x") + "--XyZ--",
      "",
      "--XyZ--",
      part("a", "1"),                                                 // no final delimiter
      part("a", "1") + "--XyZ",                                       // truncated final delimiter
      "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n",      // headers truncated
      "--XyZ\r\n\r\nx\r\n--XyZ--",                                    // a part without headers
      "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",  // no name
      "--XyZjunk\r\n" + part("a", "1") + "--XyZ--",
      "--XyZ  \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--",  // transport padding
      "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n" + std::string(9000, 'x') + "\r\n\r\n1\r\n--XyZ--",
      "no delimiter at all",
  };
  spool_policy p;
  for (size_t i = 0; i < bodies.size(); ++i) {
    SCOPED_TRACE("body " + std::to_string(i));
    auto want = parse_multipart(k_type, bodies[i]);
    auto b = spool(dir, bodies[i]);
    ASSERT_TRUE(b);
    auto got = b->parse(k_type, p);
    ASSERT_EQ(got.ok(), want.ok()) << (got.ok() ? want.err().detail : got.err().detail);
    if (!want.ok()) {
      EXPECT_EQ(got.err().code, errc::invalid_argument);
      EXPECT_EQ(got.err().detail, want.err().detail);
      continue;
    }
    ASSERT_EQ(got->parts.size(), want->size());
    for (const auto& w : *want) {
      auto it = got->parts.find(w.name);
      ASSERT_NE(it, got->parts.end());
      EXPECT_EQ(it->second.content, w.content);
      EXPECT_EQ(it->second.filename, w.filename);
    }
  }
  auto b = spool(dir, part("a", "1") + "--XyZ--");
  EXPECT_FALSE(b->parse("text/plain", p).ok());
  b.reset();
  EXPECT_TRUE(fs::is_empty(dir));  // the body file was unlinked at once
  fs::remove_all(dir);
}

// A file part of a few MiB (random bytes, delimiter look-alikes across the 1 MiB windows) is
// copied out exactly, and its temp file is removed with the body.
TEST(spooled_body, file_part_goes_to_its_own_file) {
  const fs::path dir = fresh_dir("file");
  std::mt19937 rng(12);
  std::string zip(3 * (1 << 20) + 17, '\0');
  for (auto& c : zip) c = static_cast<char>(rng());
  // Look-alikes of the delimiter that miss by one byte, straddling the window edges.
  zip.replace((1 << 20) - 3, 7, "\r\n--XyY");
  zip.replace((2 << 20) - 5, 7, "\r\n-XyZ-");
  const std::string body =
      part("roster", "fullName\nA\n") + part("photos", zip, "; filename=\"p.zip\"") + "--XyZ--\r\n";
  auto b = spool(dir, body, 65536);
  spool_policy p;
  p.file_field = "photos";
  auto got = b->parse(k_type, p);
  ASSERT_TRUE(got.ok()) << got.err().detail;
  EXPECT_EQ(got->parts.size(), 1u);
  EXPECT_EQ(got->parts.find("roster")->second.content, "fullName\nA\n");
  EXPECT_EQ(got->file_name, "p.zip");
  ASSERT_FALSE(got->file_path.empty());
  EXPECT_EQ(fs::path(got->file_path).parent_path(), dir);
  EXPECT_EQ(slurp(got->file_path), zip);
  b.reset();
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(spooled_body, limits_per_part_and_in_total_and_one_file_part) {
  const fs::path dir = fresh_dir("limits");
  spool_policy p;
  p.file_field = "photos";
  p.max_bytes["roster"] = 10;
  p.default_max_bytes = 4;
  p.max_total_bytes = 12;
  {
    auto b = spool(dir, part("roster", std::string(11, 'r')) + "--XyZ--");
    auto got = b->parse(k_type, p);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::too_large);
    EXPECT_NE(got.err().detail.find("roster"), std::string::npos);
  }
  {
    auto b = spool(dir, part("bg", "white") + "--XyZ--");
    EXPECT_EQ(b->parse(k_type, p).err().code, errc::too_large);
  }
  {
    auto b = spool(dir, part("roster", std::string(10, 'r')) + part("x", "abc") + "--XyZ--");
    EXPECT_EQ(b->parse(k_type, p).err().code, errc::too_large);  // 13 bytes together
  }
  {
    auto b = spool(dir, part("photos", "a") + part("photos", "b") + "--XyZ--");
    auto got = b->parse(k_type, p);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::invalid_argument);
  }
  {  // a file part cut short: an error, and its temp file goes with the body
    auto b = spool(dir, part("photos", std::string(1000, 'z')).substr(0, 500));
    EXPECT_FALSE(b->parse(k_type, p).ok());
  }
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}
