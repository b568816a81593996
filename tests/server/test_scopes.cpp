// Per-subject access on the real server (127.0.0.1, no model): what each scope may do on every
// API route (cards:read, cards:write, admin, no scope claim), the 403 insufficient_scope answer,
// scope claims that are refused (401), and the tenant claim org: another organization's cards
// are absent from lists and 404 everywhere, and cards made with an org token are in that org.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "server/jwt.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// A token with the given claims (nullopt = no such claim), signed with the harness's secret.
std::string token(const std::optional<std::string>& scope, const std::optional<std::string>& org = std::nullopt) {
  server::jwt_claims c;
  c.sub = "scopes-test";
  c.exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      3600;
  c.scope = scope;
  c.org = org;
  return *server::jwt_sign_hs256(c, harness::k_secret);
}
// A token with any payload, HS256-signed with the harness's secret.
std::string forge(const std::string& payload) {
  const std::string in =
      server::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + server::base64url_encode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), harness::k_secret.data(), static_cast<int>(harness::k_secret.size()),
       reinterpret_cast<const unsigned char*>(in.data()), in.size(), mac, &n);
  return in + "." + server::base64url_encode(std::string(reinterpret_cast<char*>(mac), n));
}
httplib::Headers bearer(const std::string& t) { return {{"Authorization", "Bearer " + t}}; }

// One API operation as the test calls it: {id} is replaced by a card id.
struct operation {
  const char* method;
  const char* path;   // as in docs/openapi.json
  const char* scope;  // what it needs: "cards:read" or "cards:write"
};
// Every operation behind a token. The test below checks that docs/openapi.json lists exactly
// these, with the same x-scope, so a route added without a decision fails here.
const std::vector<operation> k_operations = {
    {"POST", "/api/id-cards", "cards:write"},
    {"GET", "/api/id-cards", "cards:read"},
    {"GET", "/api/id-cards/{id}", "cards:read"},
    {"PATCH", "/api/id-cards/{id}", "cards:write"},
    {"DELETE", "/api/id-cards/{id}", "cards:write"},
    {"POST", "/api/id-cards/{id}/photo", "cards:write"},
    {"POST", "/api/id-cards/{id}/fetch-and-clean", "cards:write"},
    {"GET", "/api/id-cards/{id}/card.pdf", "cards:read"},
    {"GET", "/api/id-cards/{id}/photo-sheet.pdf", "cards:read"},
    {"POST", "/fetch-and-clean", "cards:write"},
    {"POST", "/api/remove-background", "cards:write"},
    {"GET", "/api/jobs/{id}", "cards:read"},
    {"POST", "/api/batches", "cards:write"},
    {"GET", "/api/batches/{id}", "cards:read"},
    {"GET", "/api/batches/{id}/cards.pdf", "cards:read"},
    {"GET", "/api/batches/{id}/export.csv", "cards:read"},
};

std::string with_id(std::string path, const std::string& id) {
  if (const auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, id);
  return path;
}

// Calls op on card id with a body that would be accepted; a photo route gets a small PNG and a
// fetch a URL (refused by the address policy as loopback: that is after the access check).
httplib::Result call(httplib::Client& c, const operation& op, const std::string& id, const httplib::Headers& h) {
  const std::string path = with_id(op.path, id);
  const std::string m = op.method;
  if (m == "GET") return c.Get(path, h);
  if (m == "DELETE") return c.Delete(path, h);
  if (m == "PATCH") return c.Patch(path, h, R"({"role":"Patched"})", "application/json");
  if (path == "/api/id-cards") return c.Post(path, h, R"({"fullName":"Made Here"})", "application/json");
  if (path == "/api/batches")  // a roster without photos: a card, no job
    return c.Post(path, h, httplib::MultipartFormDataItems{{"roster", "fullName\nBatch Made\n", "r.csv", "text/csv"}});
  if (path.find("fetch-and-clean") != std::string::npos)
    return c.Post(path, h, json{{"idCardId", id}, {"rawPhotoUrl", "http://127.0.0.1:9/x.png"}}.dump(),
                  "application/json");
  return c.Post(path, h, harness::pattern_png(24, 24), "image/png");
}

std::string error_code(const httplib::Result& r) {
  const json b = body_of(r);
  return b.is_object() && b.contains("error") && b["error"].contains("code") && b["error"]["code"].is_string()
             ? b["error"]["code"].get<std::string>()
             : "";
}

void expect_insufficient_scope(const httplib::Result& r, const std::string& needed, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no response";
  EXPECT_EQ(r->status, 403) << what << ": " << r->body;
  EXPECT_EQ(error_code(r), "insufficient_scope") << what << ": " << r->body;
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer error=\"insufficient_scope\", scope=\"" + needed + "\"")
      << what;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << what;
}

// The request passed the access check (whatever the handler then answered).
void expect_let_through(const httplib::Result& r, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no response";
  EXPECT_NE(r->status, 401) << what << ": " << r->body;
  EXPECT_NE(error_code(r), "insufficient_scope") << what << ": " << r->body;
  EXPECT_NE(error_code(r), "other_organization") << what << ": " << r->body;
}

}  // namespace

TEST(scopes, openapi_names_the_scope_of_every_operation) {
  harness::server s;
  ASSERT_TRUE(s.start("scopes-doc", harness::no_model_engines()));
  auto c = s.client();
  auto r = c.Get("/openapi.json");
  ASSERT_TRUE(r);
  const json doc = body_of(r);
  ASSERT_TRUE(doc.is_object());
  std::map<std::string, std::string> documented;  // "GET /api/id-cards" -> scope
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      const bool open = op.contains("security") && op["security"].empty();
      std::string upper = method;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const std::string key = upper + " " + path;
      if (open) {
        EXPECT_FALSE(op.contains("x-scope")) << key << " is open and names a scope";
        continue;
      }
      ASSERT_TRUE(op.contains("x-scope") && op["x-scope"].is_string()) << key << " has no x-scope";
      documented[key] = op["x-scope"].get<std::string>();
      ASSERT_TRUE(op["responses"].contains("403")) << key << " does not document its 403";
    }
  std::map<std::string, std::string> tested;
  for (const auto& op : k_operations) tested[std::string(op.method) + " " + op.path] = op.scope;
  EXPECT_EQ(documented, tested);
  EXPECT_TRUE(doc["components"]["securitySchemes"]["bearer"]["description"].is_string());
}

TEST(scopes, each_operation_with_each_scope) {
  harness::server s;
  ASSERT_TRUE(s.start("scopes", harness::no_model_engines()));
  auto c = s.client();
  const std::map<std::string, httplib::Headers> tokens = {
      {"cards:read", bearer(token("cards:read"))},
      {"cards:write", bearer(token("cards:write"))},
      {"admin", bearer(token("admin"))},
      {"cards:read admin", bearer(token("cards:read admin"))},
      {"no scope claim", s.auth()},
  };
  for (const auto& [who, h] : tokens) {
    for (const auto& op : k_operations) {
      const std::string what = who + ": " + op.method + " " + op.path;
      const std::string id = s.create_card("Scoped");  // a fresh card: DELETE and photos change it
      ASSERT_FALSE(id.empty());
      const size_t raw_before = s.stored("raw").size();
      auto r = call(c, op, id, h);
      const bool write = std::string(op.scope) == "cards:write";
      if (who == "cards:read" && write) {
        expect_insufficient_scope(r, "cards:write", what);
        // Refused before the handler: the card is as it was, nothing was stored.
        auto now = c.Get("/api/id-cards/" + id, s.auth());
        ASSERT_TRUE(now);
        EXPECT_EQ(now->status, 200) << what;
        EXPECT_TRUE(body_of(now)["role"].is_null()) << what;
        EXPECT_EQ(body_of(now)["photoStatus"], "none") << what;
        EXPECT_EQ(s.stored("raw").size(), raw_before) << what;
      } else {
        expect_let_through(r, what);
      }
    }
  }
  // What a read-only token gets is the real answer, not just "not refused".
  const auto& ro = tokens.at("cards:read");
  const std::string id = s.create_card("Read Me");
  auto list = c.Get("/api/id-cards", ro);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200) << list->body;
  auto got = c.Get("/api/id-cards/" + id, ro);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(body_of(got)["fullName"], "Read Me");
  auto pdf = c.Get("/api/id-cards/" + id + "/card.pdf", ro);
  ASSERT_TRUE(pdf);
  EXPECT_EQ(pdf->status, 409) << "no photo yet: " << pdf->body;
  auto head = c.Head("/api/id-cards/" + id, ro);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200) << "HEAD is a read";
  // A write token creates, changes and deletes.
  const auto& rw = tokens.at("cards:write");
  auto made = c.Post("/api/id-cards", rw, R"({"fullName":"Writer"})", "application/json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  const std::string wid = body_of(made)["id"];
  auto patched = c.Patch("/api/id-cards/" + wid, rw, R"({"role":"Scribe"})", "application/json");
  ASSERT_TRUE(patched);
  EXPECT_EQ(body_of(patched)["role"], "Scribe") << patched->body;
  auto del = c.Delete("/api/id-cards/" + wid, rw);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  EXPECT_TRUE(s.logged({"POST /api/id-cards/", "403", "lacks cards:write"}))
      << "the refusal's reason is in the log line";
}

TEST(scopes, refused_before_the_body_is_looked_at) {
  harness::server s;
  ASSERT_TRUE(s.start("scopes-order", harness::no_model_engines()));
  auto c = s.client();
  const auto ro = bearer(token("cards:read"));
  // Malformed bodies, wrong types, missing cards: the scope answers first.
  expect_insufficient_scope(c.Post("/api/id-cards", ro, "{not json", "application/json"), "cards:write", "bad JSON");
  expect_insufficient_scope(c.Post("/api/id-cards", ro, R"({"fullName":"x"})", "text/plain"), "cards:write",
                            "wrong content type");
  expect_insufficient_scope(c.Delete("/api/id-cards/nope", ro), "cards:write", "no such card");
  expect_insufficient_scope(c.Post("/api/remove-background", ro, "", "image/png"), "cards:write", "empty photo");
  auto list = c.Get("/api/id-cards", s.auth());
  ASSERT_TRUE(list);
  EXPECT_TRUE(body_of(list)["items"].empty()) << "nothing was created";
}

TEST(scopes, scope_claims_that_do_not_parse_are_401) {
  harness::server s;
  ASSERT_TRUE(s.start("scopes-bad", harness::no_model_engines()));
  auto c = s.client();
  const int64_t exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      3600;
  // Signed correctly, so only the claim can be what is refused (jwt_sign_hs256 writes only
  // strings, so these payloads are signed here).
  for (const char* members : {R"("scope":["cards:read"])", R"("scope":3)", R"("scope":"cards:delete")", R"("scope":"")",
                              R"("org":5)", R"("org":"")"}) {
    const std::string forged = forge(R"({"exp":)" + std::to_string(exp) + "," + members + "}");
    auto r = c.Get("/api/id-cards", bearer(forged));
    ASSERT_TRUE(r) << members;
    EXPECT_EQ(r->status, 401) << members << ": " << r->body;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer") << members;
  }
  auto fine = c.Get("/api/id-cards", bearer(forge(R"({"exp":)" + std::to_string(exp) + R"(,"scope":"cards:read"})")));
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200) << "the same forging with a good claim passes: " << fine->body;
  EXPECT_TRUE(s.logged({"GET /api/id-cards", "401", "scope"}));
  EXPECT_TRUE(s.logged({"GET /api/id-cards", "401", "org"}));
}

TEST(scopes, org_tokens_see_only_their_cards) {
  harness::server s;
  ASSERT_TRUE(s.start("scopes-org", harness::no_model_engines()));
  auto c = s.client();
  const auto a = bearer(token(std::nullopt, "Org A"));
  const auto a_read = bearer(token("cards:read", "Org A"));
  const auto b = bearer(token("cards:write", "Org B"));
  const auto all = s.auth();
  // Interleaved, so that a filter applied after the LIMIT would show short pages.
  std::vector<std::string> a_ids, b_ids;
  for (int i = 0; i < 4; ++i) {
    auto ra = c.Post("/api/id-cards", a, json{{"fullName", "A" + std::to_string(i)}}.dump(), "application/json");
    ASSERT_TRUE(ra);
    ASSERT_EQ(ra->status, 201) << ra->body;
    EXPECT_EQ(body_of(ra)["organization"], "Org A") << "the token's org is the card's";
    a_ids.push_back(body_of(ra)["id"]);
    auto rb = c.Post("/api/id-cards", b, json{{"fullName", "B" + std::to_string(i)}, {"organization", "Org B"}}.dump(),
                     "application/json");
    ASSERT_TRUE(rb);
    ASSERT_EQ(rb->status, 201) << rb->body;
    b_ids.push_back(body_of(rb)["id"]);
  }
  const std::string unowned = s.create_card("No Org");  // organization "" (a token without org)

  // Lists: page by page, only the token's cards, the pages full, the last one without a cursor.
  const auto walk = [&](const httplib::Headers& h) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int guard = 0; guard < 20; ++guard) {
      auto r = c.Get("/api/id-cards?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), h);
      EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
      if (!r) break;
      const json j = body_of(r);
      for (const auto& it : j["items"]) ids.push_back(it["id"]);
      if (j["nextCursor"].is_null()) break;
      EXPECT_EQ(j["items"].size(), 3u) << "a page before the last is full";
      cursor = j["nextCursor"];
    }
    return std::set<std::string>(ids.begin(), ids.end());
  };
  EXPECT_EQ(walk(a), std::set<std::string>(a_ids.begin(), a_ids.end()));
  EXPECT_EQ(walk(a_read), std::set<std::string>(a_ids.begin(), a_ids.end()));
  EXPECT_EQ(walk(b), std::set<std::string>(b_ids.begin(), b_ids.end()));
  EXPECT_EQ(walk(all).size(), 9u) << "a token without org sees every card";
  {  // B's cursor used by A: still only A's cards
    auto rb = c.Get("/api/id-cards?limit=1", b);
    ASSERT_TRUE(rb);
    const std::string cursor = body_of(rb)["nextCursor"];
    auto ra = c.Get("/api/id-cards?limit=100&cursor=" + cursor, a);
    ASSERT_TRUE(ra);
    const json page = body_of(ra);  // not in the for's range: ["items"] of a temporary dangles
    for (const auto& it : page["items"]) EXPECT_EQ(it["organization"], "Org A");
  }

  // Another organization's card, and a card without one, are 404 on every route, as a missing
  // card is, and nothing about them changes.
  auto missing = c.Get("/api/id-cards/0123456789abcdef0123456789abcdef", a);
  ASSERT_TRUE(missing);
  ASSERT_EQ(missing->status, 404);
  for (const std::string& other : {b_ids[0], unowned}) {
    for (const auto& op : k_operations) {
      if (std::string(op.path).find("{id}") == std::string::npos && std::string(op.path) != "/fetch-and-clean")
        continue;
      const std::string what = std::string(op.method) + " " + op.path + " of another org's card";
      auto r = call(c, op, other, a);
      ASSERT_TRUE(r) << what;
      EXPECT_EQ(r->status, 404) << what << ": " << r->body;
      EXPECT_EQ(r->body, missing->body) << what << ": the answer of a card that does not exist";
    }
    auto still = c.Get("/api/id-cards/" + other, all);
    ASSERT_TRUE(still);
    EXPECT_EQ(still->status, 200) << "not deleted";
    EXPECT_TRUE(body_of(still)["role"].is_null()) << "not patched";
    EXPECT_EQ(body_of(still)["photoStatus"], "none") << "no photo taken";
  }
  EXPECT_TRUE(s.stored("raw").empty()) << "no photo of another org's card was stored";

  // The organization a token with org may write is its own.
  auto other_org = c.Post("/api/id-cards", a, R"({"fullName":"X","organization":"Org B"})", "application/json");
  ASSERT_TRUE(other_org);
  EXPECT_EQ(other_org->status, 403) << other_org->body;
  EXPECT_EQ(error_code(other_org), "other_organization");
  auto no_org = c.Post("/api/id-cards", a, R"({"fullName":"X","organization":""})", "application/json");
  ASSERT_TRUE(no_org);
  EXPECT_EQ(no_org->status, 403) << "\"\" is another organization: " << no_org->body;
  auto own = c.Post("/api/id-cards", a, R"({"fullName":"X","organization":"Org A"})", "application/json");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 201) << own->body;
  auto moved = c.Patch("/api/id-cards/" + a_ids[0], a, R"({"organization":"Org B"})", "application/json");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 403) << moved->body;
  EXPECT_EQ(error_code(moved), "other_organization");
  auto cleared = c.Patch("/api/id-cards/" + a_ids[0], a, R"({"organization":null})", "application/json");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->status, 403) << "a card cannot leave its org by clearing it: " << cleared->body;
  auto kept = c.Patch("/api/id-cards/" + a_ids[0], a, R"({"organization":"Org A","role":"Kept"})", "application/json");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 200) << kept->body;
  EXPECT_EQ(body_of(kept)["role"], "Kept");
  auto after = c.Get("/api/id-cards/" + a_ids[0], all);
  ASSERT_TRUE(after);
  EXPECT_EQ(body_of(after)["organization"], "Org A");
  // A token without org still moves cards (today's full access).
  auto admin_move = c.Patch("/api/id-cards/" + a_ids[1], all, R"({"organization":"Org B"})", "application/json");
  ASSERT_TRUE(admin_move);
  EXPECT_EQ(admin_move->status, 200) << admin_move->body;
  auto gone = c.Get("/api/id-cards/" + a_ids[1], a);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404) << "moved out of Org A";
  auto arrived = c.Get("/api/id-cards/" + a_ids[1], b);
  ASSERT_TRUE(arrived);
  EXPECT_EQ(arrived->status, 200) << "and into Org B";

  // A's own cards work as usual with A's token; a read-only A token still cannot write them.
  auto del = c.Delete("/api/id-cards/" + a_ids[2], a);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  expect_insufficient_scope(c.Delete("/api/id-cards/" + a_ids[3], a_read), "cards:write", "read-only org token");
  // The idNumber uniqueness is per organization, as before: B may reuse A's number.
  auto n1 = c.Post("/api/id-cards", a, R"({"fullName":"N","idNumber":"77"})", "application/json");
  auto n2 = c.Post("/api/id-cards", b, R"({"fullName":"N","idNumber":"77"})", "application/json");
  ASSERT_TRUE(n1 && n2);
  EXPECT_EQ(n1->status, 201) << n1->body;
  EXPECT_EQ(n2->status, 201) << n2->body;
}
