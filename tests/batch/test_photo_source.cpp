// Photo sources: ZIPs made here (libzip, or byte by byte for what libzip will not write)
// and folders; hostile archives (zip-slip, NUL names, bombs, lying headers, bad CRCs,
// encryption, junk) are refused before or while reading, never extracted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "batch/make_zip.hpp"
#include "batch/match.hpp"
#include "batch/photo_source.hpp"

using namespace idphoto;
using namespace idphoto::batch;
using base::errc;
using ziptest::bytes;

namespace fs = std::filesystem;

namespace {

class photo_source_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/idphoto-batch-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) { return (fs::path(dir_) / name).string(); }

  std::string zip_of(const std::vector<ziptest::entry>& entries, bool deflate = true) {
    const std::string p = path("t" + std::to_string(++n_) + ".zip");
    EXPECT_TRUE(ziptest::write_zip(p, entries, deflate));
    return p;
  }
  std::string raw_zip(const bytes& b) {
    const std::string p = path("raw" + std::to_string(++n_) + ".zip");
    ziptest::write_file(p, b);
    return p;
  }

  std::string dir_;
  int n_ = 0;
  batch_config cfg_;
};

bytes photo_bytes(int seed, size_t n = 3000) {
  bytes b(n);
  uint32_t x = 2166136261u ^ static_cast<uint32_t>(seed);
  for (auto& v : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v = static_cast<uint8_t>(x);
  }
  return b;
}

TEST_F(photo_source_test, lists_and_reads_entries_sorted_skipping_junk) {
  const std::vector<ziptest::entry> entries = {
      {"photos/R2.png", photo_bytes(2)},
      {"photos/R1.jpg", photo_bytes(1)},
      {"photos/", {}},
      {"__MACOSX/photos/._R1.jpg", photo_bytes(9)},
      {"photos/.DS_Store", photo_bytes(8)},
      {"readme.txt", ziptest::text("hello")},
  };
  auto z = open_zip(zip_of(entries), cfg_);
  ASSERT_TRUE(z.ok()) << z.err().to_string();
  const auto& e = (*z)->entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "photos/R1.jpg");
  EXPECT_EQ(e[1].name, "photos/R2.png");
  EXPECT_EQ(e[2].name, "readme.txt");
  EXPECT_EQ(e[0].size_bytes, 3000);
  auto r1 = (*z)->read(0, 1 << 20);
  ASSERT_TRUE(r1.ok()) << r1.err().to_string();
  EXPECT_EQ(*r1, photo_bytes(1));
  auto r2 = (*z)->read(1, 1 << 20);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, photo_bytes(2));
  EXPECT_EQ((*z)->read(1, 2999).err().code, errc::too_large);  // over the caller's limit
  EXPECT_EQ((*z)->read(3, 1 << 20).err().code, errc::invalid_argument);
  // Stored (not deflated) entries read the same.
  auto s = open_zip(zip_of(entries, false), cfg_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*(*s)->read(0, 1 << 20), photo_bytes(1));
  // An empty archive is an archive.
  auto empty = open_zip(raw_zip(ziptest::stored_zip({})), cfg_);  // libzip does not write empty ones
  ASSERT_TRUE(empty.ok()) << empty.err().to_string();
  EXPECT_TRUE((*empty)->entries().empty());
}

TEST_F(photo_source_test, zip_slip_and_hostile_names_refuse_the_archive) {
  for (const std::string& name :
       {std::string("../evil.jpg"), std::string("photos/../../etc/passwd"), std::string("/abs/R1.jpg"),
        std::string("..\\windows.jpg"), std::string("a\\..\\..\\b.jpg"), std::string("C:/x.jpg"),
        std::string("\\\\server\\share.jpg"), std::string("photos/..")}) {
    auto z = open_zip(zip_of({{"R1.jpg", photo_bytes(1)}, {name, photo_bytes(2)}}), cfg_);
    ASSERT_FALSE(z.ok()) << name;
    EXPECT_EQ(z.err().code, errc::invalid_argument) << name << ": " << z.err().to_string();
    EXPECT_NE(z.err().detail.find("entry"), std::string::npos) << z.err().detail;
  }
  // A NUL inside a name (libzip would show it as a space): only the raw bytes tell.
  auto nul = open_zip(
      raw_zip(ziptest::stored_zip({{"R1.jpg", photo_bytes(1)}, {std::string("R2.jpg\0../../x", 14), photo_bytes(2)}})),
      cfg_);
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.err().code, errc::invalid_argument);
  EXPECT_NE(nul.err().detail.find("NUL"), std::string::npos) << nul.err().detail;
  // The hand-made writer itself makes archives we read (so the refusal above is the name's).
  auto fine = open_zip(raw_zip(ziptest::stored_zip({{"R1.jpg", photo_bytes(1)}})), cfg_);
  ASSERT_TRUE(fine.ok()) << fine.err().to_string();
  EXPECT_EQ(*(*fine)->read(0, 1 << 20), photo_bytes(1));
  // Names that only look odd are fine.
  auto odd = open_zip(zip_of({{"my..photo.jpg", photo_bytes(1)}, {"dir/a..b/R1.jpg", photo_bytes(2)}}), cfg_);
  EXPECT_TRUE(odd.ok()) << odd.err().to_string();
}

TEST_F(photo_source_test, zip_bomb_by_ratio_and_by_total) {
  // 20 MiB of zeros deflate to ~20 KiB: a ratio near 1000.
  const std::string bomb = zip_of({{"R1.jpg", bytes(20 << 20, 0)}});
  EXPECT_LT(fs::file_size(bomb), 100u << 10);
  auto z = open_zip(bomb, cfg_);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.err().code, errc::too_large);
  EXPECT_NE(z.err().detail.find("compression ratio"), std::string::npos) << z.err().detail;
  // Many honest entries whose sum is over the total.
  batch_config small = cfg_;
  small.max_unzipped_bytes = 10000;
  std::vector<ziptest::entry> many;
  for (int i = 0; i < 4; ++i) many.push_back({"R" + std::to_string(i) + ".jpg", photo_bytes(i)});
  auto t = open_zip(zip_of(many), small);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.err().code, errc::too_large);
  EXPECT_NE(t.err().detail.find("IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES"), std::string::npos);
  // Small entries are exempt from the ratio (a tiny text file compresses well).
  EXPECT_TRUE(open_zip(zip_of({{"notes.txt", bytes(60000, 'a')}}), cfg_).ok());
}

TEST_F(photo_source_test, a_header_that_lies_about_its_size_is_caught_while_reading) {
  // A deflated entry of 1 MiB whose headers claim 1000 bytes: under the ratio exemption and
  // every declared limit, so only counting the bytes really inflated catches it.
  bytes zip = ziptest::read_file(zip_of({{"R1.jpg", bytes(1 << 20, 7)}}));
  for (size_t at : ziptest::find_sig(zip, 0x04034b50)) ziptest::put_le32(zip, at + 22, 1000);
  for (size_t at : ziptest::find_sig(zip, 0x02014b50)) ziptest::put_le32(zip, at + 24, 1000);
  auto z = open_zip(raw_zip(zip), cfg_);
  ASSERT_TRUE(z.ok()) << z.err().to_string();
  ASSERT_EQ((*z)->entries().size(), 1u);
  EXPECT_EQ((*z)->entries()[0].size_bytes, 1000);
  auto r = (*z)->read(0, 10 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::corrupt) << r.err().to_string();
  // The total budget counts real bytes across reads too.
  batch_config small = cfg_;
  small.max_unzipped_bytes = 5000;
  auto two = open_zip(zip_of({{"R1.jpg", photo_bytes(1)}}), small);
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE((*two)->read(0, 1 << 20).ok());
  auto again = (*two)->read(0, 1 << 20);  // 6000 bytes inflated in all
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::too_large);
}

TEST_F(photo_source_test, corrupt_truncated_encrypted_and_junk_archives) {
  // A flipped byte in a stored entry: the CRC no longer matches.
  bytes zip = ziptest::stored_zip({{"R1.jpg", photo_bytes(1)}});
  zip[30 + 6 + 100] ^= 0xff;
  auto z = open_zip(raw_zip(zip), cfg_);
  ASSERT_TRUE(z.ok()) << z.err().to_string();
  auto r = (*z)->read(0, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::corrupt) << r.err().to_string();
  // The encrypted flag (general purpose bit 0) in both headers.
  bytes enc = ziptest::stored_zip({{"R1.jpg", photo_bytes(1)}});
  for (size_t at : ziptest::find_sig(enc, 0x04034b50)) enc[at + 6] |= 1;
  for (size_t at : ziptest::find_sig(enc, 0x02014b50)) enc[at + 8] |= 1;
  auto e = open_zip(raw_zip(enc), cfg_);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.err().code, errc::unsupported) << e.err().to_string();
  // Junk, an empty file, a truncated archive, a folder, nothing.
  const bytes good = ziptest::read_file(zip_of({{"R1.jpg", photo_bytes(1)}, {"R2.jpg", photo_bytes(2)}}));
  for (const bytes& b : {photo_bytes(5, 5000), bytes(), bytes(good.begin(), good.begin() + good.size() / 2),
                         bytes(good.begin(), good.end() - 10), ziptest::text("PK\x05\x06 short")}) {
    auto j = open_zip(raw_zip(b), cfg_);
    ASSERT_FALSE(j.ok()) << b.size();
    EXPECT_EQ(j.err().code, errc::corrupt) << b.size() << ": " << j.err().to_string();
  }
  EXPECT_EQ(open_zip(dir_, cfg_).err().code, errc::not_found);
  EXPECT_EQ(open_zip(path("missing.zip"), cfg_).err().code, errc::not_found);
}

TEST_F(photo_source_test, entry_count_and_file_size_limits) {
  std::vector<ziptest::entry> many;
  for (int i = 0; i < 30; ++i) many.push_back({"R" + std::to_string(i) + ".jpg", photo_bytes(i, 10)});
  batch_config few = cfg_;
  few.max_zip_entries = 29;
  const std::string p = zip_of(many);
  auto z = open_zip(p, few);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.err().code, errc::too_large);
  EXPECT_NE(z.err().detail.find("IDPHOTO_MAX_ZIP_ENTRIES"), std::string::npos);
  few.max_zip_entries = 30;
  EXPECT_TRUE(open_zip(p, few).ok());
  batch_config small = cfg_;
  small.max_batch_bytes = static_cast<int64_t>(fs::file_size(p)) - 1;
  auto s = open_zip(p, small);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().code, errc::too_large);
  EXPECT_NE(s.err().detail.find("IDPHOTO_MAX_BATCH_BYTES"), std::string::npos);
}

TEST_F(photo_source_test, folders) {
  const fs::path d = fs::path(dir_) / "photos";
  fs::create_directories(d / "sub");
  ziptest::write_file((d / "R2.png").string(), photo_bytes(2));
  ziptest::write_file((d / "R1.jpg").string(), photo_bytes(1));
  ziptest::write_file((d / ".hidden.jpg").string(), photo_bytes(3));
  ziptest::write_file((d / "sub" / "R3.jpg").string(), photo_bytes(3));
  auto s = open_photo_dir(d.string(), cfg_);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  const auto& e = (*s)->entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].name, "R1.jpg");
  EXPECT_EQ(e[1].name, "R2.png");
  EXPECT_EQ(*(*s)->read(1, 1 << 20), photo_bytes(2));
  EXPECT_EQ((*s)->read(1, 100).err().code, errc::too_large);
  EXPECT_EQ((*s)->read(2, 100).err().code, errc::invalid_argument);
  batch_config few = cfg_;
  few.max_zip_entries = 1;
  EXPECT_EQ(open_photo_dir(d.string(), few).err().code, errc::too_large);
  EXPECT_EQ(open_photo_dir(path("nope"), cfg_).err().code, errc::not_found);
}

TEST(photo_names, photo_extensions) {
  for (const char* n : {"a.jpg", "A.JPG", "x/y.jpeg", "p.png", "w.WebP", "h.heic", "h.HEIF", "t.tif", "t.tiff"})
    EXPECT_TRUE(is_photo_name(n)) << n;
  for (const char* n : {"a.txt", "jpg", ".jpg", "a.jpg.zip", "a.", "noext", "a.gif", "a.svg"})
    EXPECT_FALSE(is_photo_name(n)) << n;
}

roster roster_of(const std::vector<std::pair<std::string, std::string>>& rows) {
  roster r;
  int n = 0;
  for (const auto& [id, photo] : rows) {
    roster_row row;
    row.row = ++n;
    row.fields.full_name = "P" + std::to_string(n);
    row.fields.id_number = id;
    row.photo = photo;
    row.valid = true;
    r.rows.push_back(row);
  }
  return r;
}

std::vector<photo_entry> named(const std::vector<std::string>& names) {
  std::vector<photo_entry> v;
  for (const auto& n : names) v.push_back({n, 100});
  std::sort(v.begin(), v.end(), [](const photo_entry& a, const photo_entry& b) { return a.name < b.name; });
  return v;
}

// The issue's roster: 30 rows, 29 photo files; rows 3 and 7 without a photo, row 12 with two
// (R12.jpg and R12.png: the first is used).
TEST(match, the_issue_roster) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::vector<std::string> files;
  for (int i = 1; i <= 30; ++i) {
    rows.push_back({"R" + std::to_string(i), ""});
    if (i == 3 || i == 7) continue;
    files.push_back("photos/R" + std::to_string(i) + (i % 2 ? ".jpg" : ".png"));
  }
  files.push_back("photos/R12.jpg");  // R12.png is there already (even rows are .png)
  ASSERT_EQ(files.size(), 29u);
  const auto entries = named(files);
  const auto m = match_photos(roster_of(rows), entries);
  ASSERT_EQ(m.entry_of_row.size(), 30u);
  for (int i = 1; i <= 30; ++i) {
    const auto& got = m.entry_of_row[i - 1];
    if (i == 3 || i == 7) {
      EXPECT_FALSE(got.has_value()) << i;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << i;
    const std::string want = "photos/R" + std::to_string(i) + (i % 2 || i == 12 ? ".jpg" : ".png");
    EXPECT_EQ(entries[*got].name, want);
  }
  ASSERT_EQ(m.problems.size(), 3u);
  EXPECT_EQ(m.problems[0].row, 3);
  EXPECT_EQ(m.problems[0].code, "no_photo");
  EXPECT_EQ(m.problems[0].id_number, "R3");
  EXPECT_EQ(m.problems[1].row, 7);
  EXPECT_EQ(m.problems[1].code, "no_photo");
  EXPECT_EQ(m.problems[2].row, 12);
  EXPECT_EQ(m.problems[2].code, "duplicate_photo");
  EXPECT_NE(m.problems[2].message.find("photos/R12.jpg is used"), std::string::npos) << m.problems[2].message;
  EXPECT_TRUE(m.unmatched.empty());
}

TEST(match, case_photo_column_unmatched_and_invalid_rows) {
  auto r = roster_of(
      {{"ab-1", ""}, {"AB-2", ""}, {"", "Portraits/Cy.PNG"}, {"", ""}, {"X9", "x9.jpg"}, {"R5", ""}, {"bad", ""}});
  r.rows[6].valid = false;  // an invalid row gets no photo even when one matches
  const auto entries = named({"AB-1.JPG", "portraits/cy.png", "ab-2.jpeg", "X9.txt", "R5.txt", "bad.jpg", "extra.jpg"});
  const auto m = match_photos(r, entries);
  const auto name_of = [&](size_t row) {
    return m.entry_of_row[row] ? entries[*m.entry_of_row[row]].name : std::string("-");
  };
  EXPECT_EQ(name_of(0), "AB-1.JPG");
  EXPECT_EQ(name_of(1), "ab-2.jpeg");
  EXPECT_EQ(name_of(2), "portraits/cy.png");  // the photo column, any case
  EXPECT_EQ(name_of(3), "-");                 // neither an idNumber nor a photo column
  EXPECT_EQ(name_of(4), "-");                 // x9.jpg does not exist (X9.txt is not a photo)
  EXPECT_EQ(name_of(5), "-");                 // R5.txt is not a photo
  EXPECT_EQ(name_of(6), "-");
  std::vector<int> no_photo_rows;
  for (const auto& p : m.problems) {
    EXPECT_EQ(p.code, "no_photo");
    no_photo_rows.push_back(p.row);
  }
  EXPECT_EQ(no_photo_rows, (std::vector<int>{4, 5, 6}));
  std::vector<std::string> unmatched;
  for (size_t i : m.unmatched) unmatched.push_back(entries[i].name);
  EXPECT_EQ(unmatched, (std::vector<std::string>{"R5.txt", "X9.txt", "bad.jpg", "extra.jpg"}));
}

}  // namespace
