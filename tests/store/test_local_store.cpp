// Local-store specifics: what happens on disk (no temp files after failures, sweeping what a
// killed process left), directories that cannot be used, and the /files/ path lookup.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <vector>

#include "store/blob_store.hpp"
#include "store/store_test_util.hpp"

namespace idphoto::store::test {
namespace {

namespace fs = std::filesystem;
using base::errc;

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

TEST(store_local, creates_dir_and_folders) {
  temp_dir t;
  local_config c{t.path() + "/a/b/files", "http://x"};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  for (const char* f : {"raw", "clean", "card"}) EXPECT_TRUE(fs::is_directory(c.dir + "/" + f));
}

TEST(store_local, dir_under_a_regular_file_is_io) {
  // Root ignores permission bits, but nobody can create a directory inside a regular file.
  temp_dir t;
  write_file(t.path() + "/plain", "x");
  auto s = make_local_store(local_config{t.path() + "/plain/files", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().code, errc::io);
}

TEST(store_local, empty_dir_is_invalid_argument) {
  auto s = make_local_store(local_config{"", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().code, errc::invalid_argument);
}

TEST(store_local, successful_put_leaves_exactly_one_file) {
  temp_dir t;
  local_config c{t.path(), ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  auto put = (*s)->put("data", "image/png", "raw");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  EXPECT_EQ(entries(t.path() + "/raw"), std::vector<std::string>{put->key.substr(4)});
  EXPECT_EQ(put->url, "/files/" + put->key);  // no public_base_url: a relative URL
}

TEST(store_local, failed_write_leaves_no_temp_file) {
  // A real write failure that root cannot bypass: a file-size limit (RLIMIT_FSIZE) below the
  // body size makes write() fail with EFBIG after the temp file exists and is partly written.
  temp_dir t;
  local_config c{t.path(), ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto put = (*s)->put(random_bytes(64 * 1024, 7), "image/tiff", "clean");
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::io);
  EXPECT_TRUE(entries(t.path() + "/clean").empty()) << entries(t.path() + "/clean")[0];
  // And the store still works afterwards.
  auto again = (*s)->put(random_bytes(64 * 1024, 7), "image/tiff", "clean");
  EXPECT_TRUE(again.ok()) << again.err().to_string();
}

TEST(store_local, folder_replaced_by_a_file_fails_put_and_ping) {
  temp_dir t;
  local_config c{t.path(), ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  fs::remove_all(t.path() + "/card");
  write_file(t.path() + "/card", "not a directory");
  auto put = (*s)->put("x", "application/pdf", "card");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::io);
  auto p = (*s)->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable);
}

TEST(store_local, ping_fails_when_dir_is_gone) {
  temp_dir t;
  local_config c{t.path() + "/files", ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->ping().ok());
  fs::remove_all(c.dir);
  auto p = (*s)->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable);
}

TEST(store_local, url_joins_base_without_double_slash) {
  temp_dir t;
  auto s = make_local_store(local_config{t.path(), "https://photos.example//"});
  ASSERT_TRUE(s.ok());
  auto put = (*s)->put("x", "image/heic", "raw");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->url, "https://photos.example/files/" + put->key);
}

TEST(store_local_file_path, returns_absolute_path_of_an_existing_key) {
  temp_dir t;
  local_config c{t.path(), ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  auto put = (*s)->put("file bytes", "image/jpeg", "clean");
  ASSERT_TRUE(put.ok());
  auto p = local_file_path(c, put->key);
  ASSERT_TRUE(p.ok()) << p.err().to_string();
  EXPECT_TRUE(fs::path(*p).is_absolute());
  EXPECT_EQ(fs::canonical(*p), fs::canonical(t.path() + "/" + put->key));
  ASSERT_TRUE((*s)->remove(put->key).ok());
  auto gone = local_file_path(c, put->key);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.err().code, errc::not_found);
}

TEST(store_local_file_path, refuses_hostile_keys_even_when_the_target_exists) {
  temp_dir t;
  local_config c{t.path() + "/files", ""};
  ASSERT_TRUE(make_local_store(c).ok());
  write_file(t.path() + "/secret.png", "secret");
  const std::string hex = "0123456789abcdef0123456789abcdef";
  for (const std::string& key :
       {std::string("../secret.png"), std::string("raw/../../secret.png"), t.path() + "/secret.png",
        std::string("raw/") + hex + ".png/../../../secret.png", std::string("raw/.tmp-") + hex,
        std::string("raw/") + hex + std::string(1, '\0') + ".png", std::string("card")}) {
    auto p = local_file_path(c, key);
    ASSERT_FALSE(p.ok()) << key;
    EXPECT_EQ(p.err().code, errc::invalid_argument) << key;
  }
}

TEST(store_local_file_path, a_symlink_under_a_key_name_is_not_served) {
  temp_dir t;
  local_config c{t.path(), ""};
  ASSERT_TRUE(make_local_store(c).ok());
  write_file(t.path() + "/outside", "secret");
  const std::string key = "raw/0123456789abcdef0123456789abcdef.png";
  fs::create_symlink(t.path() + "/outside", t.path() + "/" + key);
  auto p = local_file_path(c, key);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::not_found);
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  auto got = (*s)->get(key);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.err().code, errc::invalid_argument);  // well-formed key, refused as a link
}

TEST(store_sweep_temp_files, removes_temp_files_and_keeps_stored_ones) {
  temp_dir t;
  local_config c{t.path(), ""};
  auto s = make_local_store(c);
  ASSERT_TRUE(s.ok());
  auto put = (*s)->put("keep me", "image/png", "raw");
  ASSERT_TRUE(put.ok());
  write_file(t.path() + "/raw/.tmp-0123456789abcdef0123456789abcdef", "partial");
  write_file(t.path() + "/card/.tmp-ffffffffffffffffffffffffffffffff", "");
  write_file(t.path() + "/clean/unrelated.txt", "not ours to delete");
  auto n = sweep_temp_files(t.path());
  ASSERT_TRUE(n.ok()) << n.err().to_string();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(entries(t.path() + "/raw"), std::vector<std::string>{put->key.substr(4)});
  EXPECT_TRUE(entries(t.path() + "/card").empty());
  EXPECT_EQ(entries(t.path() + "/clean"), std::vector<std::string>{"unrelated.txt"});
  auto got = (*s)->get(put->key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "keep me");
}

TEST(store_sweep_temp_files, min_age_spares_fresh_temp_files) {
  temp_dir t;
  ASSERT_TRUE(make_local_store(local_config{t.path(), ""}).ok());
  const std::string fresh = t.path() + "/raw/.tmp-fresh";
  const std::string stale = t.path() + "/raw/.tmp-stale";
  write_file(fresh, "a");
  write_file(stale, "b");
  timespec times[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), times, 0), 0);
  auto n = sweep_temp_files(t.path(), 3600);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_FALSE(fs::exists(stale));
}

TEST(store_sweep_temp_files, missing_dir_is_zero_not_an_error) {
  temp_dir t;
  auto n = sweep_temp_files(t.path() + "/does-not-exist");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

void make_old(const std::string& path, int age_s) {
  const timespec t{::time(nullptr) - age_s, 0};
  timespec times[2] = {t, t};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

TEST(store_local_sweep_orphans, keeps_referenced_and_young_removes_old_unreferenced) {
  temp_dir t;
  auto s = make_local_store(local_config{t.path(), ""});
  ASSERT_TRUE(s.ok());
  auto referenced_old = (*s)->put("kept: referenced", "image/png", "raw");
  auto orphan_old = (*s)->put("removed: old orphan", "image/png", "clean");
  auto orphan_card = (*s)->put("removed: old orphan pdf", "application/pdf", "card");
  auto orphan_young = (*s)->put("kept: young orphan", "image/jpeg", "raw");
  ASSERT_TRUE(referenced_old.ok() && orphan_old.ok() && orphan_card.ok() && orphan_young.ok());
  for (const auto* k : {&*referenced_old, &*orphan_old, &*orphan_card}) make_old(t.path() + "/" + k->key, 2 * 86400);
  // Not keys: a temp file a killed put left, a stray file and a hidden one, all old.
  const std::string temp = t.path() + "/raw/.tmp-0123456789abcdef0123456789abcdef";
  const std::string stray = t.path() + "/clean/notes.txt";
  const std::string hidden = t.path() + "/clean/.0123456789abcdef0123456789abcdef.png";
  for (const auto& p : {temp, stray, hidden}) {
    write_file(p, "x");
    make_old(p, 2 * 86400);
  }

  auto r = (*s)->sweep_orphans({referenced_old->key}, 86400);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->removed, 2u);
  EXPECT_EQ(r->kept, 2u);
  EXPECT_TRUE(*(*s)->exists(referenced_old->key));
  EXPECT_TRUE(*(*s)->exists(orphan_young->key));
  EXPECT_FALSE(*(*s)->exists(orphan_old->key));
  EXPECT_FALSE(*(*s)->exists(orphan_card->key));
  // Temp files are sweep_temp_files' business, as before.
  EXPECT_TRUE(fs::exists(temp));
  EXPECT_TRUE(fs::exists(stray));
  EXPECT_TRUE(fs::exists(hidden));
  auto temps = sweep_temp_files(t.path(), 600);
  ASSERT_TRUE(temps.ok());
  EXPECT_EQ(*temps, 1u);
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_TRUE(fs::exists(stray));
}

TEST(store_local_sweep_orphans, a_symlink_under_a_key_name_is_neither_followed_nor_removed) {
  temp_dir t;
  auto s = make_local_store(local_config{t.path(), ""});
  ASSERT_TRUE(s.ok());
  const std::string outside = t.path() + "/outside.png";
  write_file(outside, "not the store's");
  const std::string link = t.path() + "/raw/0123456789abcdef0123456789abcdef.png";
  ASSERT_EQ(::symlink(outside.c_str(), link.c_str()), 0);
  make_old(link, 2 * 86400);
  make_old(outside, 2 * 86400);
  auto r = (*s)->sweep_orphans({}, 0);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(r->kept, 0u);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::exists(outside));
}

TEST(store_local_sweep_orphans, missing_folder_is_fine_and_a_folder_that_is_a_file_is_io) {
  temp_dir t;
  auto s = make_local_store(local_config{t.path(), ""});
  ASSERT_TRUE(s.ok());
  auto k = (*s)->put("orphan", "image/png", "raw");
  ASSERT_TRUE(k.ok());
  fs::remove(t.path() + "/card");
  auto r = (*s)->sweep_orphans({}, 0);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->removed, 1u);
  write_file(t.path() + "/card", "a file where a folder should be");
  auto bad = (*s)->sweep_orphans({}, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::io);
}

}  // namespace
}  // namespace idphoto::store::test
