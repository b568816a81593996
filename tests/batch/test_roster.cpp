// The CSV reader (RFC 4180 and what spreadsheets add), the roster on top of it, the CSV
// writer and the batch limits from the environment.
#include <gtest/gtest.h>

#include <map>

#include "batch/batch_config.hpp"
#include "batch/csv.hpp"
#include "batch/roster.hpp"

using namespace idphoto;
using namespace idphoto::batch;
using base::errc;

namespace {

csv_table must_parse(const std::string& text, int64_t max_records = 1000) {
  auto t = parse_csv(text, max_records);
  EXPECT_TRUE(t.ok()) << t.err().to_string();
  return t.ok() ? *t : csv_table{};
}

std::vector<std::vector<std::string>> cells(const csv_table& t) {
  std::vector<std::vector<std::string>> v;
  for (const auto& r : t.records) v.push_back(r.fields);
  return v;
}

using rows_t = std::vector<std::vector<std::string>>;

TEST(csv, plain_and_quoted_fields) {
  auto t = must_parse("a,b,c\n1,\"two, with comma\",3\n\"say \"\"hi\"\"\",,\"\"\n");
  EXPECT_EQ(t.separator, ',');
  EXPECT_EQ(cells(t), (rows_t{{"a", "b", "c"}, {"1", "two, with comma", "3"}, {"say \"hi\"", "", ""}}));
  EXPECT_EQ(t.records[1].line, 2);
}

TEST(csv, embedded_line_breaks_keep_the_line_count) {
  auto t = must_parse("name,notes\r\n\"Ada\",\"line one\r\nline two\nline three\"\r\nBob,x\r\n");
  EXPECT_EQ(cells(t), (rows_t{{"name", "notes"}, {"Ada", "line one\nline two\nline three"}, {"Bob", "x"}}));
  EXPECT_EQ(t.records[1].line, 2);
  EXPECT_EQ(t.records[2].line, 5);  // the record after a three-line field
}

TEST(csv, bom_semicolons_line_ends_and_blank_lines) {
  auto t = must_parse(
      "\xEF\xBB\xBF"
      "fullName;idNumber\r\n\r\nAda;A1\rBob;B2\n\n\nCy;\"C;3\"");
  EXPECT_EQ(t.separator, ';');
  EXPECT_EQ(cells(t), (rows_t{{"fullName", "idNumber"}, {"Ada", "A1"}, {"Bob", "B2"}, {"Cy", "C;3"}}));
  EXPECT_EQ(t.records[3].line, 7);
  // A comma inside a ';' file is data; quoted separators in the header do not count.
  auto q = must_parse("\"a;b\",c,d\n1,2,3\n");
  EXPECT_EQ(q.separator, ',');
  EXPECT_EQ(q.records[0].fields[0], "a;b");
  EXPECT_EQ(must_parse("only\nx\n").separator, ',');
}

TEST(csv, malformed_files_name_the_line) {
  struct bad {
    std::string text, want;
  };
  const bad cases[] = {
      {"a,b\n1,\"open\n2,3\n", "line 2: a quoted field is not closed"},
      {"a,b\n1,\"closed\"x\n", "line 2: text after a closing quote"},
      {"a,b\n1,2\n3,b\"ad\n", "line 3: a quote inside an unquoted field"},
      {"a,b\n1,2\n\xff\xfe,3\n", "line 3: not valid UTF-8"},
      {"a,b\n1,\"\xc3\x28\"\n", "line 2: not valid UTF-8"},
      {"a,b\n1,\xed\xa0\x80\n", "line 2: not valid UTF-8"},  // a surrogate
      {"", "empty file"},
      {"\xEF\xBB\xBF", "empty file"},
      {"\n\n\r\n", "no header row"},
  };
  for (const auto& c : cases) {
    auto r = parse_csv(c.text, 100);
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().detail.rfind(c.want, 0), 0u) << r.err().detail;
  }
}

TEST(csv, the_record_limit_stops_early) {
  std::string text = "fullName\n";
  for (int i = 0; i < 100000; ++i) text += "Person " + std::to_string(i) + "\n";
  auto r = parse_csv(text, 5001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  EXPECT_NE(r.err().detail.find("more than 5000 data rows"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("line 5002"), std::string::npos) << r.err().detail;
  // The same file within a limit that allows it: every row, in order.
  auto all = parse_csv(text, 100001);
  ASSERT_TRUE(all.ok()) << all.err().to_string();
  ASSERT_EQ(all->records.size(), 100001u);
  EXPECT_EQ(all->records.back().fields[0], "Person 99999");
  EXPECT_EQ(all->records.back().line, 100001);
}

TEST(csv, writer_quotes_and_defuses_formulas) {
  EXPECT_EQ(csv_line({"a", "b c", ""}), "a,b c,\r\n");
  EXPECT_EQ(csv_line({"has,comma", "has \"quote\"", "two\nlines"}),
            "\"has,comma\",\"has \"\"quote\"\"\",\"two\nlines\"\r\n");
  EXPECT_EQ(csv_line({" lead", "trail "}), "\" lead\",\"trail \"\r\n");
  EXPECT_EQ(csv_line({"=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "ok=fine"}),
            "\"'=HYPERLINK(\"\"x\"\")\",'+1,'-2,'@SUM(A1),ok=fine\r\n");
  EXPECT_EQ(csv_line({"a;b", "c"}, ';'), "\"a;b\";c\r\n");
  // What the writer writes, the reader reads back (the formula guard aside).
  const std::vector<std::string> fields = {"plain", "com,ma", "q\"uote", "multi\nline", " sp "};
  auto back = must_parse(csv_line(fields) + csv_line(fields));
  ASSERT_EQ(back.records.size(), 2u);
  EXPECT_EQ(back.records[1].fields, fields);
}

batch_config small_config() {
  batch_config c;
  c.max_rows = 50;
  return c;
}

roster must_roster(const std::string& text, const roster_options& o = {}) {
  auto r = parse_roster(text, small_config(), o);
  EXPECT_TRUE(r.ok()) << r.err().to_string();
  return r.ok() ? *r : roster{};
}

TEST(roster, columns_by_name_in_any_spelling) {
  auto r = must_roster(
      "Full Name;ID_NUMBER;Organisation;role;issued-at;ExpiresAt;Photo;Notes\n"
      "Ada Lovelace;A-1;Engines;Engineer;2024-01-31;2030-12-31;ada.jpg;\"first\nprogrammer\"\n");
  ASSERT_EQ(r.rows.size(), 1u);
  const auto& row = r.rows[0];
  EXPECT_TRUE(row.valid);
  EXPECT_EQ(row.row, 1);
  EXPECT_EQ(*row.fields.full_name, "Ada Lovelace");
  EXPECT_EQ(*row.fields.id_number, "A-1");
  EXPECT_EQ(*row.fields.organization, "Engines");
  EXPECT_EQ(*row.fields.role, "Engineer");
  EXPECT_EQ(*row.fields.issued_at, "2024-01-31");
  EXPECT_EQ(*row.fields.expires_at, "2030-12-31");
  EXPECT_EQ(row.photo, "ada.jpg");
  EXPECT_EQ(r.ignored_columns, std::vector<std::string>{"Notes"});
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.separator, ';');
}

TEST(roster, only_full_name_is_required) {
  auto r = must_roster("fullName\nAda\n  Bob  \n", {"Default Org"});
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(*r.rows[1].fields.full_name, "Bob");  // cells are trimmed
  EXPECT_EQ(*r.rows[1].fields.id_number, "");
  EXPECT_EQ(*r.rows[1].fields.organization, "Default Org");
  EXPECT_EQ(r.n_valid(), 2u);
}

TEST(roster, whole_file_errors) {
  struct bad {
    std::string text;
    errc code;
    std::string want;
  };
  const bad cases[] = {
      {"name,idNumber\nAda,1\n", errc::invalid_argument,
       "roster: no fullName column (the header row has: name, idNumber"},
      {"fullName,Full Name\nA,B\n", errc::invalid_argument, "roster: the column fullName is given twice"},
      {"fullName\n\xc3\n", errc::invalid_argument, "roster: line 2: not valid UTF-8"},
      {"", errc::invalid_argument, "roster: empty file"},
      {"fullName\n\"never closed\n", errc::invalid_argument, "roster: line 2: a quoted field is not closed"},
  };
  for (const auto& c : cases) {
    auto r = parse_roster(c.text, small_config());
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_EQ(r.err().code, c.code);
    EXPECT_EQ(r.err().detail.rfind(c.want, 0), 0u) << r.err().detail;
  }
  std::string many = "fullName\n";
  for (int i = 0; i < 51; ++i) many += "P\n";
  auto r = parse_roster(many, small_config());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  EXPECT_NE(r.err().detail.find("IDPHOTO_MAX_BATCH_ROWS"), std::string::npos);
  batch_config tiny = small_config();
  tiny.max_roster_bytes = 10;
  auto big = parse_roster("fullName\nAda Lovelace\n", tiny);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.err().code, errc::too_large);
  EXPECT_NE(big.err().detail.find("IDPHOTO_MAX_ROSTER_BYTES"), std::string::npos);
}

TEST(roster, the_100k_row_file_is_refused_by_the_default_limit) {
  std::string text = "fullName,idNumber\n";
  for (int i = 0; i < 100000; ++i) text += "Person " + std::to_string(i) + ",N" + std::to_string(i) + "\n";
  auto r = parse_roster(text, batch_config{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  EXPECT_NE(r.err().detail.find("more than 5000 data rows"), std::string::npos) << r.err().detail;
}

TEST(roster, bad_rows_become_problems_and_keep_their_numbers) {
  auto r = must_roster(
      "fullName,idNumber,organization,issuedAt\n"
      "Ada,A1,Org,2024-01-01\n"    // 1 ok
      ",A2,Org,\n"                 // 2 no name
      "Bob,B1,Org,01/02/2024\n"    // 3 bad date
      "\n"                         // (blank: not a row)
      "Cy,A1,Org,\n"               // 4 repeats row 1
      "Di,A1,Other,\n"             // 5 ok: another organization
      "Ed,E1\n"                    // 6 too few cells
      "Fay,F1,Org,,extra\n"        // 7 too many cells
      "\"Gil\tTab\",G1,Org,\n"     // 8 a control character
      "Hal,H1,Org,2024-02-30\n");  // 9 not a real date
  ASSERT_EQ(r.rows.size(), 9u);
  std::map<int, std::string> want = {{2, "fullName: required"},
                                     {3, "issuedAt: not a date"},
                                     {4, "idNumber A1 repeats row 1"},
                                     {6, "has 2 cells, the header has 4"},
                                     {7, "has 5 cells, the header has 4"},
                                     {8, "fullName: contains control characters"},
                                     {9, "issuedAt: not a date"}};
  ASSERT_EQ(r.problems.size(), want.size());
  for (const auto& p : r.problems) {
    EXPECT_EQ(p.code, "invalid_row");
    ASSERT_TRUE(want.count(p.row)) << p.row << ": " << p.message;
    EXPECT_EQ(p.message.rfind(want[p.row], 0), 0u) << p.row << ": " << p.message;
  }
  for (const auto& row : r.rows) EXPECT_EQ(row.valid, !want.count(row.row)) << row.row;
  EXPECT_EQ(r.rows[3].line, 6);  // row 4 is on line 6 (the blank line 5 is not a row)
  EXPECT_EQ(r.problems[0].id_number, "A2");
}

TEST(batch_config, from_env_and_validate) {
  std::map<std::string, std::string> env = {
      {"IDPHOTO_MAX_BATCH_BYTES", "1048576"}, {"IDPHOTO_MAX_BATCH_ROWS", "20"}, {"IDPHOTO_MAX_ZIP_RATIO", ""}};
  const auto lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto c = batch_config::from_env(lookup);
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->max_batch_bytes, 1048576);
  EXPECT_EQ(c->max_rows, 20);
  EXPECT_EQ(c->max_zip_ratio, 100);  // empty = the default
  EXPECT_TRUE(c->validate().ok());
  env = {{"IDPHOTO_MAX_BATCH_ROWS", "100001"},
         {"IDPHOTO_MAX_ZIP_ENTRIES", "ten"},
         {"IDPHOTO_MAX_ZIP_RATIO", "0"},
         {"IDPHOTO_MAX_ROSTER_BYTES", "-5"}};
  auto bad = batch_config::from_env(lookup);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  for (const char* k :
       {"IDPHOTO_MAX_BATCH_ROWS", "IDPHOTO_MAX_ZIP_ENTRIES", "IDPHOTO_MAX_ZIP_RATIO", "IDPHOTO_MAX_ROSTER_BYTES"})
    EXPECT_NE(bad.err().detail.find(k), std::string::npos) << k << " in " << bad.err().detail;
  batch_config zero;
  zero.max_rows = 0;
  zero.max_unzipped_bytes = -1;
  auto v = zero.validate();
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.err().detail.find("IDPHOTO_MAX_BATCH_ROWS"), std::string::npos);
  EXPECT_NE(v.err().detail.find("IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES"), std::string::npos);
}

}  // namespace
