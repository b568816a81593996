// `idphoto batch` end to end: the real binary on rosters and photo ZIPs or folders made here
// (libvips for the photos, libzip or bytes for the archives). batch_cli cases are refused
// before the model loads; batch_cli_model cases clean photos with the real ISNet model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>

#include "batch/csv.hpp"
#include "batch/make_zip.hpp"
#include "cli/cli_run.hpp"

using namespace clitest;

namespace {

// The person photo as a small JPEG (the astronaut at 160 px): cleaning is not what these
// tests measure, so the photos are small.
gen::bytes person_jpeg() {
  static const gen::bytes b = gen::save(shrink_to(astronaut(), 160), ".jpg[Q=85]");
  return b;
}

class batch_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    gen::init();
    ASSERT_TRUE(fs::is_regular_file(exe())) << "no idphoto binary at " << exe();
    dir = fresh_test_dir("idphoto-batch-cli");
  }
  void TearDown() override { remove_unless_failed(dir); }
  fs::path put(const std::string& name, const gen::bytes& b) {
    fs::create_directories((dir / name).parent_path());
    gen::write_file(dir / name, b);
    return dir / name;
  }
  fs::path put_text(const std::string& name, const std::string& s) { return put(name, gen::bytes(s.begin(), s.end())); }
  run_result batch(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"batch"};
    a.insert(a.end(), args.begin(), args.end());
    return run(a, dir);
  }
  // A refused run: exit 1, the reason on stderr, and nothing written (not even the out dir).
  void expect_refused(const run_result& r, const std::string& reason) {
    EXPECT_EQ(r.code, 1) << shown(r);
    EXPECT_NE(r.err.find(reason), std::string::npos) << "want \"" << reason << "\"\n" << shown(r);
    EXPECT_FALSE(fs::exists(dir / "out")) << shown(r);
  }
  fs::path dir;
};

class batch_cli_model : public batch_cli {
 protected:
  void SetUp() override {
    batch_cli::SetUp();
    ASSERT_TRUE(fs::is_regular_file(models_dir() + "/isnet-general-fp16.onnx"))
        << "model missing in " << models_dir() << ": run scripts/fetch-models";
    ASSERT_TRUE(fs::is_regular_file(k_astronaut)) << k_astronaut << " missing: apt-get install python3-skimage";
    ::setenv("IDPHOTO_MODELS_DIR", models_dir().c_str(), 1);
  }
};

struct export_row {
  std::map<std::string, std::string> cell;
  const std::string& operator[](const std::string& k) const { return cell.at(k); }
};

// export.csv parsed with the reader the roster uses (its own tests are in tests/batch).
std::vector<export_row> read_export(const fs::path& p) {
  const std::string text = slurp(p);
  auto t = idphoto::batch::parse_csv(text, 1000000);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.err().to_string());
  std::vector<export_row> rows;
  if (!t.ok() || t->records.empty()) return rows;
  const auto& header = t->records[0].fields;
  for (size_t r = 1; r < t->records.size(); ++r) {
    export_row row;
    for (size_t i = 0; i < header.size() && i < t->records[r].fields.size(); ++i)
      row.cell[header[i]] = t->records[r].fields[i];
    rows.push_back(row);
  }
  return rows;
}

// ---- refused before anything is written (no model needed)

TEST_F(batch_cli, usage_errors_exit_2) {
  auto h = batch({"--help"});
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--spec NAME"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("--bg COLOUR"), std::string::npos) << h.out;  // the shared clean options
  const auto roster = put_text("roster.csv", "fullName\nAda\n");
  fs::create_directories(dir / "photos");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {roster.string(), (dir / "photos").string()},                                // no --out-dir
           {roster.string(), "--out-dir", (dir / "out").string()},                      // no photos
           {roster.string(), (dir / "photos").string(), "x", "--out-dir", "out"},       // too many
           {roster.string(), (dir / "photos").string(), "--out-dir", "out", "--nope"},  // unknown option
           {roster.string(), (dir / "photos").string(), "--out-dir", "out", "--format", "gif"},
           {roster.string(), (dir / "photos").string(), "--out-dir", "out", "--mask"}}) {  // clean's only
    auto r = batch(args);
    EXPECT_EQ(r.code, 2) << shown(r);
    EXPECT_NE(r.err.find("idphoto batch --help"), std::string::npos) << shown(r);
    EXPECT_FALSE(fs::exists(dir / "out"));
  }
  ::setenv("IDPHOTO_MAX_BATCH_ROWS", "lots", 1);
  auto env = batch({roster.string(), (dir / "photos").string(), "--out-dir", "out"});
  ::unsetenv("IDPHOTO_MAX_BATCH_ROWS");
  EXPECT_EQ(env.code, 2) << shown(env);
  EXPECT_NE(env.err.find("IDPHOTO_MAX_BATCH_ROWS"), std::string::npos) << shown(env);
}

TEST_F(batch_cli, bad_rosters_are_refused_clearly) {
  fs::create_directories(dir / "photos");
  const std::string photos = (dir / "photos").string();
  struct bad {
    std::string text, reason;
  };
  std::string big = "fullName,idNumber\n";
  for (int i = 0; i < 100000; ++i) big += "Person " + std::to_string(i) + ",N" + std::to_string(i) + "\n";
  const bad cases[] = {
      {"name,idNumber\nAda,1\n", "no fullName column (the header row has: name, idNumber"},
      {"fullName,idNumber\nAda,1\nB\xe9la,2\n", "line 3: not valid UTF-8"},
      {big, "more than 5000 data rows"},
      {"", "empty file"},
      {"fullName\n\"Ada\n", "a quoted field is not closed"},
  };
  for (const auto& c : cases) {
    const auto roster = put_text("roster.csv", c.text);
    expect_refused(batch({roster.string(), photos, "--out-dir", (dir / "out").string()}), c.reason);
  }
  expect_refused(batch({(dir / "missing.csv").string(), photos, "--out-dir", (dir / "out").string()}), "no such file");
  // The row limit is configuration: the same 100k-row file passes its check with a higher one
  // (and then stops at the photos, which do not exist).
  const auto roster = put_text("roster.csv", big);
  ::setenv("IDPHOTO_MAX_BATCH_ROWS", "100000", 1);
  expect_refused(batch({roster.string(), (dir / "nothing").string(), "--out-dir", (dir / "out").string()}), "nothing");
  ::unsetenv("IDPHOTO_MAX_BATCH_ROWS");
}

TEST_F(batch_cli, hostile_archives_are_refused_before_anything_is_written) {
  const auto roster = put_text("roster.csv", "fullName,idNumber\nAda,R1\n");
  const auto out = (dir / "out").string();
  {
    const std::string zip = (dir / "slip.zip").string();
    ASSERT_TRUE(ziptest::write_zip(zip, {{"R1.jpg", person_jpeg()}, {"../../evil.jpg", person_jpeg()}}));
    expect_refused(batch({roster.string(), zip, "--out-dir", out}), "\"../../evil.jpg\" climbs out of the archive");
  }
  {
    const auto zip = put("nul.zip", ziptest::stored_zip({{std::string("R1.jpg\0.sh", 10), person_jpeg()}}));
    expect_refused(batch({roster.string(), zip.string(), "--out-dir", out}), "NUL");
  }
  {
    // 64 MiB of zeros in a ZIP of ~64 KiB, made here.
    const std::string zip = (dir / "bomb.zip").string();
    ASSERT_TRUE(ziptest::write_zip(zip, {{"R1.jpg", gen::bytes(64 << 20, 0)}}));
    EXPECT_LT(fs::file_size(zip), 200u << 10);
    expect_refused(batch({roster.string(), zip, "--out-dir", out}), "compression ratio over 100");
  }
  {
    const auto zip = put("junk.zip", gen::bytes(5000, 'j'));
    expect_refused(batch({roster.string(), zip.string(), "--out-dir", out}), "zip: no end-of-central-directory");
  }
  {
    ::setenv("IDPHOTO_MAX_ZIP_ENTRIES", "1", 1);
    const std::string zip = (dir / "many.zip").string();
    ASSERT_TRUE(ziptest::write_zip(zip, {{"R1.jpg", person_jpeg()}, {"R2.jpg", person_jpeg()}}));
    auto r = batch({roster.string(), zip, "--out-dir", out});
    ::unsetenv("IDPHOTO_MAX_ZIP_ENTRIES");
    expect_refused(r, "IDPHOTO_MAX_ZIP_ENTRIES");
  }
}

// ---- cleaning with the real model

// The issue's roster: 30 rows and 29 photo files in a ZIP; rows 3 and 7 have no photo, row 12
// has two (R12.jpg and R12.png: the first is used), row 20's photo is corrupt.
TEST_F(batch_cli_model, the_issue_roster_from_a_zip) {
  std::string roster = "fullName;idNumber;organization;role;issuedAt;expiresAt\n";
  std::vector<ziptest::entry> files;
  const gen::bytes jpeg = person_jpeg();
  for (int i = 1; i <= 30; ++i) {
    const std::string id = "R" + std::to_string(i);
    roster += "Student " + std::to_string(i) + ";" + id + ";School;Student;2026-09-01;2030-08-31\n";
    if (i == 3 || i == 7) continue;
    if (i == 20) files.push_back({"photos/" + id + ".jpg", gen::bytes(jpeg.begin(), jpeg.begin() + 300)});
    else files.push_back({"photos/" + (i % 5 ? id : "r" + std::to_string(i)) + ".jpg", jpeg});
  }
  files.push_back({"photos/R12.png", gen::save(shrink_to(astronaut(), 160), ".png")});
  ASSERT_EQ(files.size(), 29u);
  const auto roster_path = put_text("roster.csv", "\xEF\xBB\xBF" + roster);
  const std::string zip = (dir / "photos.zip").string();
  ASSERT_TRUE(ziptest::write_zip(zip, files));
  auto r = run({"batch", roster_path.string(), zip, "--out-dir", (dir / "out").string(), "--model-size", k_fast}, dir,
               {}, 1500);
  EXPECT_EQ(r.code, 1) << shown(r);  // rows without their photo
  EXPECT_NE(r.err.find("idphoto: batch: 27 of 30 rows done"), std::string::npos) << shown(r);
  EXPECT_NE(r.err.find("1 failed, 2 skipped"), std::string::npos) << shown(r);
  EXPECT_NE(r.err.find("row 20 (photos/R20.jpg)"), std::string::npos) << shown(r);

  const auto rows = read_export(dir / "out" / "export.csv");
  ASSERT_EQ(rows.size(), 30u);
  std::map<std::string, int> statuses;
  for (int i = 1; i <= 30; ++i) {
    const auto& row = rows[i - 1];
    const std::string id = "R" + std::to_string(i);
    EXPECT_EQ(row["row"], std::to_string(i));
    EXPECT_EQ(row["idNumber"], id);
    EXPECT_EQ(row["fullName"], "Student " + std::to_string(i));
    EXPECT_EQ(row["issuedAt"], "2026-09-01");
    ++statuses[row["status"]];
    if (i == 3 || i == 7) {
      EXPECT_EQ(row["status"], "skipped") << i;
      EXPECT_EQ(row["problem"], "no_photo") << i;
      EXPECT_EQ(row["output"], "");
      EXPECT_FALSE(fs::exists(dir / "out" / (id + ".png")));
    } else if (i == 20) {
      EXPECT_EQ(row["status"], "failed");
      EXPECT_EQ(row["problem"], "unreadable_photo");
      EXPECT_EQ(row["photo"], "photos/R20.jpg");
      EXPECT_FALSE(fs::exists(dir / "out" / "R20.png"));
    } else {
      EXPECT_EQ(row["status"], "done") << i << ": " << row["message"];
      EXPECT_EQ(row["output"], id + ".png");
      const auto d = decode_output(gen::read_file(dir / "out" / (id + ".png")));
      EXPECT_GT(d.info.width, 0) << id;
      if (i == 12) {
        EXPECT_EQ(row["photo"], "photos/R12.jpg");
        EXPECT_NE(row["problem"].find("duplicate_photo"), std::string::npos) << row["problem"];
        EXPECT_NE(row["message"].find("photos/R12.jpg is used"), std::string::npos) << row["message"];
      } else {
        EXPECT_EQ(row["photo"], "photos/" + (i % 5 ? id : "r" + std::to_string(i)) + ".jpg");  // any case
      }
    }
  }
  EXPECT_EQ(statuses["done"], 27);
  EXPECT_EQ(statuses["failed"], 1);
  EXPECT_EQ(statuses["skipped"], 2);
  // Nothing but the outputs and the export in the out dir (no temporary files left).
  auto names = listing(dir / "out");
  EXPECT_EQ(names.size(), 28u);
  EXPECT_TRUE(std::find(names.begin(), names.end(), "export.csv") != names.end());
}

TEST_F(batch_cli_model, a_folder_with_odd_ids_and_options) {
  const gen::bytes jpeg = person_jpeg();
  put("photos/A_1.jpg", jpeg);
  put("photos/portrait.jpeg", jpeg);  // named by the photo column (rows 2 and 4)
  put("photos/A_1.JPEG", jpeg);       // a second match for A_1
  put("photos/.hidden.jpg", jpeg);
  put("photos/notes.txt", gen::bytes{'x'});
  const auto roster = put_text("roster.csv",
                               "fullName,idNumber,photo,role\n"
                               "\"Lovelace, Ada\",A_1,,=cmd\n"
                               "Grace Hopper,,portrait.jpeg,\"Rear \"\"Amazing\"\" Admiral\"\n"
                               "No Photo,,,\n"
                               "Slash Id,C/3 x,portrait.jpeg,\n");  // no safe file name of its own
  auto r =
      run({"batch", roster.string(), (dir / "photos").string(), "--out-dir", (dir / "out").string(), "--model-size",
           k_fast, "--format", "jpg", "--bg", "white", "--max-size", "200", "--organization", "Navy"},
          dir, {}, 900);
  EXPECT_EQ(r.code, 1) << shown(r);
  EXPECT_NE(r.err.find("1 file(s) match no row: notes.txt"), std::string::npos) << shown(r);
  const auto rows = read_export(dir / "out" / "export.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["fullName"], "Lovelace, Ada");
  EXPECT_EQ(rows[0]["organization"], "Navy");
  EXPECT_EQ(rows[0]["role"], "'=cmd");  // a formula is defused in the export
  EXPECT_EQ(rows[0]["status"], "done") << rows[0]["message"];
  EXPECT_EQ(rows[0]["photo"], "A_1.JPEG");  // "A_1.JPEG" sorts before "A_1.jpg"
  EXPECT_NE(rows[0]["problem"].find("duplicate_photo"), std::string::npos);
  EXPECT_EQ(rows[0]["output"], "A_1.jpg");
  EXPECT_EQ(rows[1]["role"], "Rear \"Amazing\" Admiral");
  EXPECT_EQ(rows[1]["status"], "done") << rows[1]["message"];
  EXPECT_EQ(rows[1]["output"], "row-2.jpg");
  EXPECT_EQ(rows[2]["status"], "skipped");
  EXPECT_EQ(rows[2]["problem"], "no_photo");
  EXPECT_EQ(rows[3]["idNumber"], "C/3 x");
  EXPECT_EQ(rows[3]["output"], "C_3_x.jpg");
  for (const char* name : {"A_1.jpg", "row-2.jpg", "C_3_x.jpg"}) {
    const auto d = decode_output(gen::read_file(dir / "out" / name));
    EXPECT_EQ(d.info.fmt, img::format::jpeg) << name;
    EXPECT_LE(std::max(d.info.width, d.info.height), 200) << name;
  }
  // The inputs are untouched, and a second run over the same out dir gives the same export.
  EXPECT_EQ(gen::read_file(dir / "photos" / "A_1.jpg"), jpeg);
  auto again =
      run({"batch", roster.string(), (dir / "photos").string(), "--out-dir", (dir / "out").string(), "--model-size",
           k_fast, "--format", "jpg", "--bg", "white", "--max-size", "200", "--organization", "Navy"},
          dir, {}, 900);
  EXPECT_EQ(again.code, 1) << shown(again);
  EXPECT_EQ(read_export(dir / "out" / "export.csv").size(), 4u);
}

}  // namespace
