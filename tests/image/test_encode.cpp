// encode: PNG/JPEG/WebP bytes that probe back to the same format and size, no metadata;
// write_file_atomic: whole file or nothing, no temp files left, inputs never replaced.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/decode.hpp"
#include "image/encode.hpp"
#include "image/gen.hpp"
#include "image/probe.hpp"

using namespace idphoto::image;
using idphoto::base::errc;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

TEST(encode, round_trips_and_decodes) {
  gen::init();
  auto im = gen::pattern(64, 40);
  for (format f : {format::png, format::jpeg, format::webp}) {
    SCOPED_TRACE(format_name(f));
    auto b = encode(im, {f, 92});
    ASSERT_TRUE(b.ok()) << b.err().to_string();
    auto info = probe(*b);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->fmt, f);
    EXPECT_EQ(info->width, 64);
    EXPECT_EQ(info->height, 40);
    auto back = decode(*b);
    ASSERT_TRUE(back.ok());
    auto px = to_pixels(*back);
    auto want = to_pixels(im);
    ASSERT_TRUE(px.ok() && want.ok());
    ASSERT_EQ(px->data.size(), want->data.size());
    if (f == format::png) {
      EXPECT_EQ(px->data, want->data);
    }
  }
  auto rgba = encode(gen::pattern(8, 8, 4), {format::png});
  ASSERT_TRUE(rgba.ok());
  EXPECT_TRUE(probe(*rgba)->has_alpha);
  auto webp_rgba = encode(gen::pattern(8, 8, 4), {format::webp, 80});
  ASSERT_TRUE(webp_rgba.ok());
  EXPECT_TRUE(probe(*webp_rgba)->has_alpha);
}

TEST(encode, strips_metadata) {
  gen::init();
  auto tagged = gen::with_int(gen::pattern(16, 16), "orientation", 6);
  for (format f : {format::png, format::jpeg, format::webp}) {
    auto b = encode(tagged, {f, 90});
    ASSERT_TRUE(b.ok());
    auto info = probe(*b);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->orientation, 1) << format_name(f);
    EXPECT_FALSE(info->has_icc);
  }
}

TEST(encode, refuses_what_it_cannot_write) {
  gen::init();
  auto rgba = gen::pattern(8, 8, 4);
  auto r = encode(rgba, {format::jpeg, 90});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_EQ(encode(gen::pattern(8, 8), {format::jpeg, 0}).err().code, errc::invalid_argument);
  EXPECT_EQ(encode(gen::pattern(8, 8), {format::jpeg, 101}).err().code, errc::invalid_argument);
  EXPECT_EQ(encode(gen::pattern(8, 8), {format::heif, 90}).err().code, errc::unsupported);
  EXPECT_EQ(encode(image{}, {}).err().code, errc::invalid_argument);
}

TEST(write_file_atomic, writes_whole_file_and_leaves_no_temp) {
  auto dir = gen::temp_dir("write-ok");
  gen::bytes data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
  auto r = write_file_atomic(dir / "out.png", data);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(gen::read_file(dir / "out.png"), data);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"out.png"});
  struct stat st {};
  ASSERT_EQ(::stat((dir / "out.png").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // Overwrite (the default) replaces the whole file.
  gen::bytes smaller = {1, 2, 3};
  ASSERT_TRUE(write_file_atomic(dir / "out.png", smaller).ok());
  EXPECT_EQ(gen::read_file(dir / "out.png"), smaller);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"out.png"});
  fs::remove_all(dir);
}

TEST(write_file_atomic, missing_directory_fails_cleanly) {
  auto dir = gen::temp_dir("write-missing");
  auto r = write_file_atomic(dir / "no" / "such" / "dir" / "out.png", gen::bytes{1, 2, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::io);
  EXPECT_TRUE(listing(dir).empty());
  fs::remove_all(dir);
}

TEST(write_file_atomic, failure_after_temp_creation_leaves_nothing) {
  auto dir = gen::temp_dir("write-fail");
  fs::create_directory(dir / "taken");  // rename() of a file over a directory fails
  auto r = write_file_atomic(dir / "taken", gen::bytes{1, 2, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::io);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"taken"});
  fs::remove_all(dir);
}

TEST(write_file_atomic, never_replaces_an_input) {
  auto dir = gen::temp_dir("write-input");
  gen::bytes original = {9, 9, 9};
  gen::write_file(dir / "photo.jpg", original);
  write_options o;
  o.protected_paths = {dir / "photo.jpg"};

  for (const fs::path& dest : {dir / "photo.jpg", dir / "." / "photo.jpg", dir / "x" / ".." / "photo.jpg"}) {
    auto r = write_file_atomic(dest, gen::bytes{1}, o);
    ASSERT_FALSE(r.ok()) << dest;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  // A hard link to the input is the same file.
  ASSERT_EQ(::link((dir / "photo.jpg").c_str(), (dir / "alias.jpg").c_str()), 0);
  auto r = write_file_atomic(dir / "alias.jpg", gen::bytes{1}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(gen::read_file(dir / "photo.jpg"), original);
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"alias.jpg", "photo.jpg"}));

  // Other names are fine.
  EXPECT_TRUE(write_file_atomic(dir / "photo.clean.png", gen::bytes{1}, o).ok());
  fs::remove_all(dir);
}

TEST(write_file_atomic, no_overwrite_mode) {
  auto dir = gen::temp_dir("write-noclobber");
  gen::write_file(dir / "a.png", gen::bytes{7});
  write_options o;
  o.overwrite = false;
  auto r = write_file_atomic(dir / "a.png", gen::bytes{1, 2}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_EQ(gen::read_file(dir / "a.png"), gen::bytes{7});
  ASSERT_TRUE(write_file_atomic(dir / "b.png", gen::bytes{1, 2}, o).ok());
  EXPECT_EQ(gen::read_file(dir / "b.png"), (gen::bytes{1, 2}));
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"a.png", "b.png"}));
  fs::remove_all(dir);
}
