// Batches on the real server (127.0.0.1, a test engine, no model): the issue's roster of 30
// rows and 29 photos to exact counts and problems, the idempotent replay and the 422, the
// export CSV and the cards PDF, tenants, and every bad input a clear 4xx with nothing stored
// and no temporary file left in the data folder.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "batch/make_zip.hpp"
#include "harness.hpp"
#include "raw_http.hpp"
#include "server/jwt.hpp"

using namespace idphoto;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// PNGs cut short are "corrupt" to this engine (their header still reads: the upload takes
// them, the clean fails as a decoder would); every other photo comes back as it went in.
class truncation_engine final : public app::clean_engine {
 public:
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    static const std::string iend = "IEND";
    const std::string tail(b.end() - std::min<size_t>(b.size(), 12), b.end());
    if (tail.find(iend) == std::string::npos) return base::make_error(base::errc::corrupt, "truncated PNG");
    return harness::echo_clean(b);
  }
};
app::engine_factory truncation_engines() {
  return []() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new truncation_engine());
  };
}

ziptest::bytes as_bytes(const std::string& s) { return ziptest::bytes(s.begin(), s.end()); }
std::string as_string(const ziptest::bytes& b) { return std::string(b.begin(), b.end()); }

// A ZIP's bytes (libzip, deflated), made in dir.
std::string zip_of(const fs::path& dir, const std::vector<ziptest::entry>& entries, bool deflate = true) {
  const fs::path p = dir / "made.zip";
  EXPECT_TRUE(ziptest::write_zip(p.string(), entries, deflate));
  const std::string out = as_string(ziptest::read_file(p.string()));
  fs::remove(p);
  return out;
}

// The issue's roster: 30 rows R1..R30; photos for all but R3 and R7, R12 twice (jpg and png),
// R20's cut short: 29 files.
struct issue_batch {
  std::string roster;
  std::vector<ziptest::entry> photos;
};
issue_batch issue_roster() {
  issue_batch b;
  b.roster = "fullName,idNumber,role\n";
  const std::string png = harness::pattern_png(48, 64);
  for (int i = 1; i <= 30; ++i) {
    const std::string id = "R" + std::to_string(i);
    b.roster += "Person " + std::to_string(i) + "," + id + ",student\n";
    if (i == 3 || i == 7) continue;
    if (i == 12) {
      b.photos.push_back({"photos/R12.jpg", as_bytes(png)});
      b.photos.push_back({"photos/R12.png", as_bytes(harness::pattern_png(40, 40))});
    } else if (i == 20) {
      b.photos.push_back({"photos/r20.PNG", as_bytes(png.substr(0, png.size() * 2 / 3))});
    } else {
      b.photos.push_back({"photos/" + id + ".png", as_bytes(png)});
    }
  }
  return b;
}

httplib::Result post_batch(const harness::server& s, const std::string& roster, const std::string& zip,
                           const std::string& key = "", httplib::MultipartFormDataItems extra = {}) {
  auto c = s.client();
  httplib::Headers h = s.auth();
  if (!key.empty()) h.emplace("Idempotency-Key", key);
  httplib::MultipartFormDataItems form = {{"roster", roster, "roster.csv", "text/csv"}};
  if (!zip.empty()) form.push_back({"photos", zip, "photos.zip", "application/zip"});
  for (auto& e : extra) form.push_back(std::move(e));
  return c.Post("/api/batches", h, form);
}

// GET /api/batches/{id} until its status is done, at most 600 polls (a bound, not a timing).
json wait_done(const harness::server& s, const std::string& id, const httplib::Headers& h) {
  auto c = s.client();
  json b;
  for (int i = 0; i < 600; ++i) {
    auto r = c.Get("/api/batches/" + id + "?limit=1000", h);
    if (!r || r->status != 200) {
      ADD_FAILURE() << "GET batch: " << (r ? r->status : -1);
      return b;
    }
    b = json::parse(r->body);
    if (b["status"] == "done") return b;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "the batch did not finish: " << b.dump();
  return b;
}

// Temporary files of the spooled uploads left in the data folder.
std::vector<std::string> temp_files(const harness::server& s) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(s.dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".spool-", 0) == 0 || n.rfind(".upload-", 0) == 0) out.push_back(n);
  }
  return out;
}

// Nothing stored: no raw photo, no card, no temporary file.
void expect_nothing_stored(const harness::server& s, const std::string& what) {
  EXPECT_TRUE(s.stored("raw").empty()) << what;
  auto r = s.client().Get("/api/id-cards", s.auth());
  ASSERT_TRUE(r) << what;
  EXPECT_EQ(body_of(r)["items"].size(), 0u) << what << ": " << r->body;
  EXPECT_TRUE(temp_files(s).empty()) << what;
}

void expect_refused(const httplib::Result& r, int status, const std::string& what, const std::string& names = "") {
  ASSERT_TRUE(r) << what << ": no response: " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  const json b = body_of(r);
  ASSERT_TRUE(b.is_object() && b.contains("error")) << what << ": " << r->body;
  if (!names.empty()) {
    EXPECT_NE(b["error"]["message"].get<std::string>().find(names), std::string::npos) << what << ": " << r->body;
  }
}

std::string org_token(const std::string& org, const std::string& scope = "cards:write") {
  server::jwt_claims c;
  c.sub = "tenant-" + org;
  c.exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      3600;
  c.scope = scope;
  c.org = org;
  return *server::jwt_sign_hs256(c, harness::k_secret);
}

}  // namespace

TEST(batches, thirty_rows_twenty_nine_photos_exact_counts_and_problems) {
  harness::server s;
  ASSERT_TRUE(s.start("batch-issue", truncation_engines()));
  const issue_batch ib = issue_roster();
  ASSERT_EQ(ib.photos.size(), 29u);
  auto r = post_batch(s, ib.roster, zip_of(s.dir, ib.photos));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const json made = body_of(r);
  const std::string id = made["id"];
  EXPECT_EQ(r->get_header_value("Location"), "/api/batches/" + id);
  EXPECT_EQ(made["total"], 30);
  EXPECT_TRUE(temp_files(s).empty());

  const json b = wait_done(s, id, s.auth());
  EXPECT_EQ(b["total"], 30);
  EXPECT_EQ(b["counts"], (json{{"queued", 0}, {"running", 0}, {"done", 27}, {"failed", 1}, {"dead", 0}})) << b.dump();
  std::vector<std::pair<int, std::string>> problems;
  for (const auto& p : b["problems"]) problems.emplace_back(p["row"].get<int>(), p["code"].get<std::string>());
  const std::vector<std::pair<int, std::string>> want = {
      {3, "no_photo"}, {7, "no_photo"}, {12, "duplicate_photo"}, {20, "unreadable_photo"}};
  EXPECT_EQ(problems, want) << b["problems"].dump();
  for (const auto& p : b["problems"]) {
    EXPECT_EQ(p["idNumber"], "R" + std::to_string(p["row"].get<int>()));
    EXPECT_FALSE(p["message"].get<std::string>().empty());
  }
  ASSERT_EQ(b["cards"].size(), 28u);  // a job per photo used
  for (const auto& c : b["cards"]) EXPECT_EQ(c["status"], c["row"] == 20 ? "failed" : "done") << c.dump();
  EXPECT_TRUE(b["nextCursor"].is_null());

  // R12's card has the first photo by name (R12.jpg: 48 x 64), its clean photo the same bytes.
  auto cl = s.client();
  std::string r12_card;
  for (const auto& c : b["cards"])
    if (c["row"] == 12) r12_card = c["cardId"];
  auto card = body_of(cl.Get("/api/id-cards/" + r12_card, s.auth()));
  EXPECT_EQ(card["idNumber"], "R12");
  EXPECT_EQ(card["photoStatus"], "clean");

  // Paging: 10 at a time, roster order, every job once.
  std::vector<int> rows;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto p =
        body_of(cl.Get("/api/batches/" + id + "?limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor), s.auth()));
    for (const auto& c : p["cards"]) rows.push_back(c["row"]);
    if (p["nextCursor"].is_null()) break;
    cursor = p["nextCursor"];
  }
  ASSERT_EQ(rows.size(), 28u);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  expect_refused(cl.Get("/api/batches/" + id + "?limit=0", s.auth()), 400, "limit 0");
  expect_refused(cl.Get("/api/batches/" + id + "?cursor=zzz", s.auth()), 400, "bad cursor");
  expect_refused(cl.Get("/api/batches/0123456789abcdef0123456789abcdef", s.auth()), 404, "no such batch");
  expect_refused(cl.Get("/api/batches/..%2f..", s.auth()), 404, "malformed id");

  // The export: a header and one line per row with a job or a problem (28 jobs + rows 3, 7).
  auto csv = cl.Get("/api/batches/" + id + "/export.csv", s.auth());
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 200);
  EXPECT_EQ(csv->get_header_value("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv->get_header_value("Content-Disposition"), "attachment; filename=\"batch-" + id + ".csv\"");
  EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), 31);
  EXPECT_EQ(csv->body.substr(0, csv->body.find('\n') + 1),
            "row,idNumber,fullName,cardId,jobStatus,photoStatus,cleanPhotoUrl,problem\r\n");
  EXPECT_NE(csv->body.find("\r\n3,R3,,,,,,no_photo\r\n"), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find(",failed,failed,,unreadable_photo\r\n"), std::string::npos) << csv->body;

  // The cards PDF: every card with a photo that prints (27 clean; R20's raw photo does not
  // decode, so its card is left out), A4 sheets.
  auto pdf = cl.Get("/api/batches/" + id + "/cards.pdf", s.auth());
  ASSERT_TRUE(pdf);
  EXPECT_EQ(pdf->status, 200) << pdf->body.substr(0, 300);
  EXPECT_EQ(pdf->get_header_value("Content-Type"), "application/pdf");
  EXPECT_EQ(pdf->body.substr(0, 5), "%PDF-");
}

TEST(batches, one_idempotency_key_one_batch_and_another_roster_is_422) {
  harness::server s;
  ASSERT_TRUE(s.start("batch-idem", truncation_engines()));
  const std::string png = harness::pattern_png(32, 32);
  const std::string roster = "fullName,idNumber\nAda,A1\nBob,B2\n";
  const std::string zip = zip_of(s.dir, {{"A1.png", as_bytes(png)}, {"B2.png", as_bytes(png)}});
  auto first = post_batch(s, roster, zip, "key-1");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  const std::string id = body_of(first)["id"];
  EXPECT_TRUE(body_of(first)["created"].get<bool>());
  wait_done(s, id, s.auth());
  const size_t raw = s.stored("raw").size(), clean = s.stored("clean").size();
  EXPECT_EQ(raw, 2u);

  auto again = post_batch(s, roster, zip, "key-1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202) << again->body;
  EXPECT_EQ(body_of(again)["id"], id);
  EXPECT_FALSE(body_of(again)["created"].get<bool>());
  EXPECT_EQ(s.stored("raw").size(), raw);  // the replay's staged photos were removed
  EXPECT_EQ(s.stored("clean").size(), clean);

  auto other = post_batch(s, roster + "Cy,C3\n", zip, "key-1");
  expect_refused(other, 422, "same key, another roster");
  EXPECT_EQ(body_of(other)["error"]["code"], "idempotency_key_reused");
  EXPECT_EQ(s.stored("raw").size(), raw);
  auto cards = body_of(s.client().Get("/api/id-cards", s.auth()));
  EXPECT_EQ(cards["items"].size(), 2u);

  expect_refused(post_batch(s, roster, zip, std::string(201, 'k')), 400, "key too long");
  expect_refused(post_batch(s, roster, zip, "a key"), 400, "key with a space");
  EXPECT_TRUE(temp_files(s).empty());
}

// photo parts instead of a ZIP; a tenant's batch is its organization's, others see 404;
// spreadsheet formulas in the roster come out of the export quoted and neutralised.
TEST(batches, photo_parts_tenants_and_a_safe_export) {
  harness::server s;
  ASSERT_TRUE(s.start("batch-parts", truncation_engines()));
  const std::string png = harness::pattern_png(32, 32);
  const std::string roster =
      "fullName;idNumber;organization\n\"=HYPERLINK(\"\"http://x\"\")\";T1;Other\n\"Lee, Ann\";T2;\n";
  auto c = s.client();
  httplib::Headers h = {{"Authorization", "Bearer " + org_token("Acme")}};
  httplib::MultipartFormDataItems form = {{"roster", roster, "r.csv", "text/csv"},
                                          {"photo", png, "T1.png", "image/png"},
                                          {"photo", png, "t2.PNG", "image/png"},
                                          {"bg", "white", "", ""}};
  auto r = c.Post("/api/batches", h, form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id = body_of(r)["id"];
  EXPECT_EQ(body_of(r)["organization"], "Acme");
  const json b = wait_done(s, id, h);
  EXPECT_EQ(b["counts"]["done"], 2) << b.dump();
  for (const auto& card : b["cards"]) {
    auto cj = body_of(c.Get("/api/id-cards/" + card["cardId"].get<std::string>(), h));
    EXPECT_EQ(cj["organization"], "Acme");
  }
  // Another tenant, and the tenant's own GETs.
  httplib::Headers other = {{"Authorization", "Bearer " + org_token("Globex", "cards:read")}};
  expect_refused(c.Get("/api/batches/" + id, other), 404, "other tenant");
  expect_refused(c.Get("/api/batches/" + id + "/export.csv", other), 404, "other tenant csv");
  expect_refused(c.Get("/api/batches/" + id + "/cards.pdf", other), 404, "other tenant pdf");
  auto csv = c.Get("/api/batches/" + id + "/export.csv", h);
  ASSERT_TRUE(csv);
  EXPECT_NE(csv->body.find(",\"'=HYPERLINK(\"\"http://x\"\")\","), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find(",\"Lee, Ann\","), std::string::npos) << csv->body;
  // A tenant naming another organization for the batch, and a read-only token.
  form.push_back({"organization", "Globex", "", ""});
  expect_refused(c.Post("/api/batches", h, form), 403, "other organization");
  httplib::Headers ro = {{"Authorization", "Bearer " + org_token("Acme", "cards:read")}};
  expect_refused(c.Post("/api/batches", ro, httplib::MultipartFormDataItems{{"roster", roster, "r.csv", ""}}), 403,
                 "read-only token");
  expect_refused(c.Post("/api/batches", httplib::MultipartFormDataItems{{"roster", roster, "r.csv", ""}}), 401,
                 "no token");
  // A photo part without a file name cannot be matched.
  expect_refused(c.Post("/api/batches", h,
                        httplib::MultipartFormDataItems{{"roster", roster, "r.csv", ""}, {"photo", png, "", ""}}),
                 400, "photo without filename", "filename");
  EXPECT_TRUE(temp_files(s).empty());
}

TEST(batches, bad_input_is_a_clear_4xx_and_nothing_is_stored) {
  std::signal(SIGPIPE, SIG_IGN);  // the server closes on a refused body while we still send it
  harness::server s;
  ASSERT_TRUE(s.start("batch-bad", truncation_engines(), [](app::app_config& c) {
    c.batch.max_batch_bytes = 3 << 20;
    c.batch.max_zip_ratio = 50;
    c.batch.max_roster_bytes = 2 << 20;
    c.pipeline.limits.max_bytes = 256 * 1024;
  }));
  const std::string png = harness::pattern_png(32, 32);
  const std::string roster = "fullName,idNumber\nAda,A1\n";
  const std::string good_zip = zip_of(s.dir, {{"A1.png", as_bytes(png)}});

  expect_refused(post_batch(s, roster, as_string(ziptest::stored_zip({{"../A1.png", as_bytes(png)}}))), 400, "zip slip",
                 "../A1.png");
  expect_nothing_stored(s, "zip slip");
  expect_refused(post_batch(s, roster, as_string(ziptest::stored_zip({{"/etc/A1.png", as_bytes(png)}}))), 400,
                 "absolute entry");
  expect_nothing_stored(s, "absolute entry");
  expect_refused(post_batch(s, roster, zip_of(s.dir, {{"A1.png", ziptest::bytes(8 << 20, 0)}})), 413, "zip bomb");
  expect_nothing_stored(s, "zip bomb");
  expect_refused(post_batch(s, roster, "PK\x03\x04 not really a zip"), 400, "not a zip");
  expect_nothing_stored(s, "not a zip");

  std::string huge = "fullName,idNumber\n";
  for (int i = 0; i < 100000; ++i) huge += "P,N" + std::to_string(i) + "\n";
  expect_refused(post_batch(s, huge, good_zip), 413, "100k rows", "rows");
  expect_nothing_stored(s, "100k rows");
  expect_refused(post_batch(s, "fullName,idNumber\nAd\xff\xfe,A1\n", good_zip), 400, "invalid UTF-8", "UTF-8");
  expect_nothing_stored(s, "invalid UTF-8");
  expect_refused(post_batch(s, "name,idNumber\nAda,A1\n", good_zip), 400, "no fullName", "fullName");
  expect_nothing_stored(s, "no fullName");
  expect_refused(post_batch(s, "", good_zip), 400, "empty roster");
  expect_nothing_stored(s, "empty roster");
  expect_refused(post_batch(s, "fullName\n\"unclosed\n", good_zip), 400, "malformed CSV");
  expect_nothing_stored(s, "malformed CSV");

  auto c = s.client();
  // Over IDPHOTO_MAX_ROSTER_BYTES (2 MiB here) and a photo part over IDPHOTO_MAX_IMAGE_BYTES:
  // refused while the parts are read, naming the part.
  expect_refused(post_batch(s, "fullName\n" + std::string((2 << 20) + 10, 'x') + "\n", good_zip), 413, "roster bytes",
                 "roster");
  expect_nothing_stored(s, "roster bytes");
  expect_refused(c.Post("/api/batches", s.auth(),
                        httplib::MultipartFormDataItems{{"roster", roster, "r.csv", ""},
                                                        {"photo", std::string(300 * 1024, 'p'), "A1.png", ""}}),
                 413, "photo part bytes", "photo");
  expect_nothing_stored(s, "photo part bytes");
  expect_refused(c.Post("/api/batches", s.auth(), httplib::MultipartFormDataItems{{"photos", good_zip, "p.zip", ""}}),
                 400, "no roster part", "roster");
  expect_nothing_stored(s, "no roster part");
  expect_refused(c.Post("/api/batches", s.auth(),
                        httplib::MultipartFormDataItems{{"roster", roster, "r.csv", ""},
                                                        {"photos", good_zip, "p.zip", ""},
                                                        {"photos", good_zip, "q.zip", ""}}),
                 400, "two ZIPs");
  expect_nothing_stored(s, "two ZIPs");
  expect_refused(c.Post("/api/batches", s.auth(), R"({"roster":"x"})", "application/json"), 415, "JSON body");
  expect_refused(c.Post("/api/batches", s.auth(), "", "multipart/form-data; boundary=B"), 400, "empty body");
  expect_refused(
      c.Post("/api/batches", s.auth(), "--B\r\nContent-Disposition: form-data; name=\"roster\"\r\n\r\nfullName\nA",
             "multipart/form-data; boundary=B"),
      400, "truncated multipart");
  expect_refused(c.Post("/api/batches", s.auth(), "--B\r\n\r\n", "multipart/form-data"), 400, "no boundary");
  expect_nothing_stored(s, "malformed bodies");

  // Over IDPHOTO_MAX_BATCH_BYTES (3 MiB here): by Content-Length before any byte is read, and
  // by counting a chunked body.
  const std::string head = "POST /api/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.token() +
                           "\r\nContent-Type: multipart/form-data; boundary=B\r\n";
  {
    const std::string reply = harness::raw_exchange(s.port, head + "Content-Length: 4194304\r\n\r\n--B\r\n");
    EXPECT_EQ(harness::status_of(reply), 413) << reply;
    EXPECT_NE(reply.find("\"too_large\""), std::string::npos) << reply;
  }
  expect_nothing_stored(s, "over the batch limit");
  {
    std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) chunked += "100000\r\n" + std::string(1 << 20, 'c') + "\r\n";
    chunked += "0\r\n\r\n";
    EXPECT_EQ(harness::status_of(harness::raw_exchange(s.port, chunked)), 413);
  }
  expect_nothing_stored(s, "chunked over the limit");
  // A client that goes away mid-body: nothing stays (bounded wait for the server to notice).
  {
    harness::raw_socket sock(s.port);
    ASSERT_TRUE(sock.connected());
    sock.send(head + "Content-Length: 2000000\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"photos\"\r\n\r\n" +
              std::string(500000, 'p'));
  }
  for (int i = 0; i < 200 && !temp_files(s).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expect_nothing_stored(s, "client gone mid-body");
  // No token: refused before the body is read (so nobody fills the disk anonymously).
  const std::string anon =
      "POST /api/batches HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
      "Content-Length: 100000000\r\n\r\n";
  EXPECT_EQ(harness::status_of(harness::raw_exchange(s.port, anon)), 401);
  expect_nothing_stored(s, "no token");

  // The same server still takes a good batch; a row the card rules refuse is a problem of its
  // own (invalid_row, no card), not a refusal of the batch.
  auto ok = post_batch(s, "fullName,idNumber,expiresAt\nAda,A1,\nBad,B2,31/12/2030\n", good_zip);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202) << ok->body;
  const json made = body_of(ok);
  EXPECT_EQ(made["total"], 1);
  ASSERT_EQ(made["problems"].size(), 1u) << ok->body;
  EXPECT_EQ(made["problems"][0]["row"], 2);
  EXPECT_EQ(made["problems"][0]["code"], "invalid_row");
  EXPECT_EQ(wait_done(s, made["id"], s.auth())["counts"]["done"], 1);
  EXPECT_TRUE(temp_files(s).empty());
}
