// The repository conformance suite: every TEST_P runs against SQLite and PostgreSQL
// (CTest names db.sqlite.<name> and db.postgresql.<name>); the TEST(db, …) cases cover URL
// parsing, the pure helpers and a PostgreSQL server that goes away.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "db/backends.hpp"
#include "db/migrations.hpp"
#include "db/records.hpp"
#include "db/repository.hpp"
#include "db/sql.hpp"

using namespace idphoto;
using namespace idphoto::db;
using base::errc;

namespace {

id_card_fields name_only(const std::string& name) {
  id_card_fields f;
  f.full_name = name;
  return f;
}

int latest_version() { return all_migrations().back().version; }

class conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto b = test::make_backend(GetParam());
    ASSERT_TRUE(b.ok()) << b.err().to_string();
    backend_ = std::move(*b);
    auto url = backend_->fresh_url();
    ASSERT_TRUE(url.ok()) << url.err().to_string();
    url_ = *url;
    auto r = open_repository(url_);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    repo_ = std::move(*r);
  }
  void TearDown() override {
    repo_.reset();
    backend_.reset();
  }

  id_card must_create(const std::string& name) {
    auto c = repo_->create(name_only(name));
    EXPECT_TRUE(c.ok()) << c.err().to_string();
    return c.ok() ? *c : id_card{};
  }

  // Every card, walking the pages with the given limit.
  std::vector<id_card> list_all(int limit) {
    std::vector<id_card> all;
    std::string cursor;
    for (int guard = 0; guard < 10000; ++guard) {
      auto p = repo_->list(limit, cursor);
      EXPECT_TRUE(p.ok()) << p.err().to_string();
      if (!p.ok()) break;
      EXPECT_LE(p->items.size(), static_cast<size_t>(limit));
      all.insert(all.end(), p->items.begin(), p->items.end());
      if (p->next_cursor.empty()) break;
      cursor = p->next_cursor;
    }
    return all;
  }

  std::unique_ptr<test::backend> backend_;
  std::string url_;
  std::unique_ptr<repository> repo_;
};

TEST_P(conformance, create_and_get) {
  id_card_fields f;
  f.full_name = "Ada Lovelace";
  f.id_number = "A-123";
  f.organization = "Analytical Engines";
  f.role = "Engineer";
  f.issued_at = "2024-02-29";
  f.expires_at = "2030-12-31";
  auto c = repo_->create(f);
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_TRUE(is_valid_id(c->id)) << c->id;
  EXPECT_TRUE(is_valid_timestamp(c->created_at)) << c->created_at;
  EXPECT_EQ(c->created_at, c->updated_at);
  EXPECT_EQ(c->status, photo_status::none);
  EXPECT_EQ(c->raw_photo_url, "");
  auto g = repo_->get(c->id);
  ASSERT_TRUE(g.ok()) << g.err().to_string();
  EXPECT_EQ(g->full_name, "Ada Lovelace");
  EXPECT_EQ(g->id_number, "A-123");
  EXPECT_EQ(g->organization, "Analytical Engines");
  EXPECT_EQ(g->role, "Engineer");
  EXPECT_EQ(g->issued_at, "2024-02-29");
  EXPECT_EQ(g->expires_at, "2030-12-31");
  EXPECT_EQ(g->created_at, c->created_at);
  f.id_number = "A-124";  // idNumber is unique per organization (migration 11)
  auto other = repo_->create(f);
  ASSERT_TRUE(other.ok()) << other.err().to_string();
  EXPECT_NE(other->id, c->id);
  EXPECT_EQ(repo_->backend_name(), GetParam());
}

TEST_P(conformance, get_not_found) {
  auto missing = new_card_id();
  ASSERT_TRUE(missing.ok());
  for (const std::string& id : {*missing, std::string(""), std::string("zz"), std::string("../../etc/passwd"),
                                std::string("' OR '1'='1"), std::string(32, 'A'), std::string(33, 'a'),
                                std::string("0123456789abcdef0123456789abcde\0", 32), std::string(1 << 20, 'a')}) {
    auto g = repo_->get(id);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.err().code, errc::not_found) << g.err().to_string();
    auto u = repo_->update(id, name_only("x"));
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.err().code, errc::not_found);
    auto r = repo_->remove(id);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::not_found);
    auto s = repo_->set_photo(id, photo_update{});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code, errc::not_found);
  }
}

TEST_P(conformance, list_pages_newest_first) {
  std::vector<std::string> created;
  for (int i = 0; i < 23; ++i) created.push_back(must_create("card " + std::to_string(i)).id);
  for (int limit : {1, 7, 23, 100}) {
    auto all = list_all(limit);
    ASSERT_EQ(all.size(), created.size()) << "limit " << limit;
    for (size_t i = 0; i < all.size(); ++i)
      EXPECT_EQ(all[i].id, created[created.size() - 1 - i]) << "limit " << limit << " at " << i;
    for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].created_at, all[i].created_at);
  }
  auto first = repo_->list(7, "");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->items.size(), 7u);
  EXPECT_FALSE(first->next_cursor.empty());
  auto exact = repo_->list(23, "");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 23u);
  EXPECT_EQ(exact->next_cursor, "");  // no empty trailing page
}

// An org filter is part of each query: outside it a card is not_found for get, update and
// remove (and stays as it was), and lists page through the org's cards only, pages full.
TEST_P(conformance, org_filter_scopes_every_card_query) {
  std::vector<std::string> a, b;
  for (int i = 0; i < 5; ++i) {
    id_card_fields f = name_only("A" + std::to_string(i));
    f.organization = "Org A";
    auto ca = repo_->create(f);
    ASSERT_TRUE(ca.ok()) << ca.err().to_string();
    a.push_back(ca->id);
    f = name_only("B" + std::to_string(i));
    f.organization = "Org B";
    auto cb = repo_->create(f);
    ASSERT_TRUE(cb.ok()) << cb.err().to_string();
    b.push_back(cb->id);
  }
  const id_card none = must_create("no org");
  const org_filter in_a = std::string("Org A");
  // Pages of 2 over A's 5 cards, newest first: 2, 2, 1, then no cursor.
  std::vector<std::string> seen;
  std::string cursor;
  for (size_t want : {2u, 2u, 1u}) {
    auto p = repo_->list(2, cursor, in_a);
    ASSERT_TRUE(p.ok()) << p.err().to_string();
    ASSERT_EQ(p->items.size(), want);
    for (const auto& c : p->items) {
      EXPECT_EQ(c.organization, "Org A");
      seen.push_back(c.id);
    }
    cursor = p->next_cursor;
    if (want == 1u) EXPECT_TRUE(cursor.empty());
    else ASSERT_FALSE(cursor.empty());
  }
  EXPECT_EQ(seen, std::vector<std::string>(a.rbegin(), a.rend()));
  auto whole = repo_->list(100, "", std::nullopt);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->items.size(), 11u) << "nullopt: every card";
  auto nobody = repo_->list(100, "", std::string("Org C"));
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->items.empty());
  auto prefix = repo_->list(100, "", std::string("Org"));
  ASSERT_TRUE(prefix.ok());
  EXPECT_TRUE(prefix->items.empty()) << "equality, not a prefix or a pattern";
  auto pattern = repo_->list(100, "", std::string("Org %"));
  ASSERT_TRUE(pattern.ok());
  EXPECT_TRUE(pattern->items.empty());

  for (const std::string& other : {b[0], none.id}) {
    auto g = repo_->get(other, in_a);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.err().code, errc::not_found);
    id_card_fields f;
    f.role = "changed";
    auto u = repo_->update(other, f, in_a);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.err().code, errc::not_found);
    auto r = repo_->remove(other, in_a);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::not_found);
    auto still = repo_->get(other);
    ASSERT_TRUE(still.ok()) << "not removed";
    EXPECT_EQ(still->role, "") << "not updated";
  }
  auto mine = repo_->get(a[0], in_a);
  ASSERT_TRUE(mine.ok()) << mine.err().to_string();
  id_card_fields f;
  f.role = "kept";
  auto u = repo_->update(a[0], f, in_a);
  ASSERT_TRUE(u.ok()) << u.err().to_string();
  EXPECT_EQ(u->role, "kept");
  EXPECT_TRUE(repo_->remove(a[0], in_a).ok());
  EXPECT_EQ(repo_->get(a[0]).err().code, errc::not_found);
  // "" is an organization like any other: the cards without one.
  auto empty_org = repo_->list(100, "", std::string(""));
  ASSERT_TRUE(empty_org.ok());
  ASSERT_EQ(empty_org->items.size(), 1u);
  EXPECT_EQ(empty_org->items[0].id, none.id);
  // A malformed cursor is refused with a filter too.
  auto bad = repo_->list(2, "not-a-cursor", in_a);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
}

TEST_P(conformance, list_empty) {
  auto p = repo_->list(10, "");
  ASSERT_TRUE(p.ok()) << p.err().to_string();
  EXPECT_TRUE(p->items.empty());
  EXPECT_EQ(p->next_cursor, "");
}

TEST_P(conformance, list_stable_while_cards_change) {
  for (int i = 0; i < 10; ++i) must_create("old " + std::to_string(i));
  auto p1 = repo_->list(4, "");
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 4u);
  // New cards sort above the cursor; removing a served card does not shift the next page.
  must_create("new one");
  ASSERT_TRUE(repo_->remove(p1->items[3].id).ok());
  std::set<std::string> seen;
  for (const auto& c : p1->items) seen.insert(c.id);
  std::string cursor = p1->next_cursor;
  size_t rest = 0;
  while (!cursor.empty()) {
    auto p = repo_->list(4, cursor);
    ASSERT_TRUE(p.ok()) << p.err().to_string();
    for (const auto& c : p->items) {
      EXPECT_TRUE(seen.insert(c.id).second) << "served twice: " << c.id;
      EXPECT_NE(c.full_name, "new one");
      ++rest;
    }
    cursor = p->next_cursor;
  }
  EXPECT_EQ(rest, 6u);
}

TEST_P(conformance, list_limit_bounds) {
  must_create("x");
  for (int bad : {0, -1, 101, 1000000, INT32_MIN, INT32_MAX}) {
    auto p = repo_->list(bad, "");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.err().code, errc::invalid_argument);
    EXPECT_NE(p.err().detail.find("limit"), std::string::npos);
  }
  EXPECT_TRUE(repo_->list(1, "").ok());
  EXPECT_TRUE(repo_->list(100, "").ok());
}

TEST_P(conformance, list_bad_cursor) {
  must_create("a");
  must_create("b");
  auto p = repo_->list(1, "");
  ASSERT_TRUE(p.ok());
  const std::string good = p->next_cursor;
  ASSERT_FALSE(good.empty());
  const std::string bad[] = {
      "!",
      "====",
      "a",
      good + "=",
      good + "A",
      good.substr(0, good.size() - 1),
      std::string(good.size(), '_'),
      encode_cursor("x", "y"),
      encode_cursor("2024-01-01T00:00:00.000Z", "' OR 1=1 --"),
      encode_cursor("2024-01-01T00:00:00.000Z'; DROP TABLE id_cards; --", "0123456789abcdef0123456789abcdef"),
      encode_cursor("2024-02-30T00:00:00.000Z", "0123456789abcdef0123456789abcdef"),
      std::string("abc\0def", 7),
      std::string(1 << 20, 'A'),
      "\xff\xfe",
      "' OR '1'='1",
      good + "\n",
  };
  for (const auto& c : bad) {
    auto r = repo_->list(10, c);
    ASSERT_FALSE(r.ok()) << "cursor accepted: " << c.substr(0, 60);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  // A well-formed cursor that names no card still works: it is a position, not a reference.
  auto r = repo_->list(10, encode_cursor("2000-01-01T00:00:00.000Z", std::string(32, 'f')));
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_TRUE(r->items.empty());
  EXPECT_EQ(repo_->list(10, good)->items.size(), 1u);
}

TEST_P(conformance, update_patches_only_given_fields) {
  id_card_fields f = name_only("Grace Hopper");
  f.role = "Admiral";
  f.organization = "Navy";
  auto c = repo_->create(f);
  ASSERT_TRUE(c.ok());
  id_card_fields patch;
  patch.role = "Rear Admiral";
  patch.organization = "";  // clearing is allowed
  auto u = repo_->update(c->id, patch);
  ASSERT_TRUE(u.ok()) << u.err().to_string();
  EXPECT_EQ(u->full_name, "Grace Hopper");
  EXPECT_EQ(u->role, "Rear Admiral");
  EXPECT_EQ(u->organization, "");
  EXPECT_EQ(u->created_at, c->created_at);
  EXPECT_GT(u->updated_at, c->updated_at);
  auto g = repo_->get(c->id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->role, "Rear Admiral");
  EXPECT_EQ(g->updated_at, u->updated_at);

  auto empty_name = repo_->update(c->id, name_only(""));
  ASSERT_FALSE(empty_name.ok());
  EXPECT_EQ(empty_name.err().code, errc::invalid_argument);
  EXPECT_NE(empty_name.err().detail.find("full_name"), std::string::npos);
  id_card_fields bad_date;
  bad_date.expires_at = "2023-02-29";
  auto d = repo_->update(c->id, bad_date);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.err().code, errc::invalid_argument);
  EXPECT_NE(d.err().detail.find("expires_at"), std::string::npos);
  EXPECT_EQ(repo_->get(c->id)->role, "Rear Admiral");  // a rejected patch changed nothing
}

TEST_P(conformance, remove_then_gone) {
  auto a = must_create("a");
  auto b = must_create("b");
  ASSERT_TRUE(repo_->remove(a.id).ok());
  auto g = repo_->get(a.id);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.err().code, errc::not_found);
  auto again = repo_->remove(a.id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::not_found);
  auto s = repo_->set_photo(a.id, photo_update{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().code, errc::not_found);
  EXPECT_TRUE(repo_->get(b.id).ok());
  EXPECT_EQ(list_all(10).size(), 1u);
}

TEST_P(conformance, set_photo_writes_every_column) {
  auto c = must_create("photo");
  photo_update u;
  u.raw_photo_url = "https://cdn.example/raw/1.jpg";
  u.raw_photo_key = "raw/1.jpg";
  u.clean_photo_url = "https://cdn.example/clean/1.png";
  u.clean_photo_key = "clean/1.png";
  u.status = photo_status::clean;
  u.photo_warning = "mask_empty";
  auto s = repo_->set_photo(c.id, u);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  auto g = repo_->get(c.id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->raw_photo_url, u.raw_photo_url);
  EXPECT_EQ(g->raw_photo_key, u.raw_photo_key);
  EXPECT_EQ(g->clean_photo_url, u.clean_photo_url);
  EXPECT_EQ(g->clean_photo_key, u.clean_photo_key);
  EXPECT_EQ(g->status, photo_status::clean);
  EXPECT_EQ(g->photo_error, "");
  EXPECT_EQ(g->photo_warning, "mask_empty");
  EXPECT_EQ(g->full_name, "photo");
  EXPECT_GT(g->updated_at, c.updated_at);

  photo_update failed;
  failed.raw_photo_url = u.raw_photo_url;
  failed.raw_photo_key = u.raw_photo_key;
  failed.status = photo_status::failed;
  failed.photo_error = "decode: not an image";
  s = repo_->set_photo(c.id, failed);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->clean_photo_url, "");  // every column is written, including the cleared ones
  EXPECT_EQ(s->clean_photo_key, "");
  EXPECT_EQ(s->status, photo_status::failed);
  EXPECT_EQ(s->photo_error, "decode: not an image");
  EXPECT_EQ(s->photo_warning, "");

  photo_update hostile = u;
  hostile.photo_error = std::string("bad\0byte", 8);
  auto h = repo_->set_photo(c.id, hostile);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.err().code, errc::invalid_argument);
  EXPECT_NE(h.err().detail.find("photo_error"), std::string::npos);
  hostile = u;
  hostile.clean_photo_url = std::string(1 << 20, 'u');
  h = repo_->set_photo(c.id, hostile);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.err().code, errc::invalid_argument);
}

TEST_P(conformance, validation_names_the_field) {
  struct bad_case {
    id_card_fields f;
    std::string field;
  };
  std::vector<bad_case> cases;
  cases.push_back({id_card_fields{}, "full_name"});
  cases.push_back({name_only(""), "full_name"});
  cases.push_back({name_only("   "), "full_name"});
  cases.push_back({name_only(std::string(201, 'x')), "full_name"});
  cases.push_back({name_only("bad \xc3\x28 utf8"), "full_name"});
  cases.push_back({name_only("overlong \xc0\xaf"), "full_name"});
  cases.push_back({name_only("surrogate \xed\xa0\x80"), "full_name"});
  cases.push_back({name_only("truncated \xe2\x82"), "full_name"});
  cases.push_back({name_only("too big \xf4\x90\x80\x80"), "full_name"});
  cases.push_back({name_only(std::string("nul\0inside", 10)), "full_name"});
  cases.push_back({name_only("tab\tand\nnewline"), "full_name"});
  const std::pair<std::string, std::optional<std::string> id_card_fields::*> others[] = {
      {"id_number", &id_card_fields::id_number},
      {"organization", &id_card_fields::organization},
      {"role", &id_card_fields::role}};
  for (const auto& [field, member] : others) {
    id_card_fields f = name_only("ok");
    f.*member = std::string(201, 'y');
    cases.push_back({f, field});
    f.*member = "\xff";
    cases.push_back({f, field});
  }
  for (const char* date : {"2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-1-01", "24-01-01", "yesterday",
                           "2024-01-01T00:00:00", "0000-01-01", "2024-01-0a", "2024/01/01", " 2024-01-01"}) {
    id_card_fields f = name_only("ok");
    f.issued_at = date;
    cases.push_back({f, "issued_at"});
    f = name_only("ok");
    f.expires_at = date;
    cases.push_back({f, "expires_at"});
  }
  for (const auto& c : cases) {
    auto r = repo_->create(c.f);
    ASSERT_FALSE(r.ok()) << "accepted, expected a complaint about " << c.field;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().detail.rfind(c.field + ":", 0), 0u) << r.err().detail;
  }
  EXPECT_TRUE(list_all(10).empty());  // nothing was written

  // The limits themselves are accepted.
  id_card_fields max = name_only(std::string(200, 'n'));
  max.id_number = std::string(200, 'i');
  max.role = std::string(66, 'x') + "\xe2\x82\xac" + std::string(131, 'x');  // 200 bytes, €
  max.issued_at = "2000-02-29";
  max.expires_at = "9999-12-31";
  auto ok = repo_->create(max);
  ASSERT_TRUE(ok.ok()) << ok.err().to_string();
  EXPECT_EQ(repo_->get(ok->id)->role, *max.role);
  id_card_fields unset_dates = name_only("no dates");
  unset_dates.issued_at = "";
  EXPECT_TRUE(repo_->create(unset_dates).ok());
}

TEST_P(conformance, hostile_text_round_trips) {
  const std::string names[] = {
      "Robert'); DROP TABLE id_cards; --",
      "\"double\" 'single' `back` \\ backslash",
      "$1 ?1 :name @p %s %n {}",
      "O'Brien",
      "\xe5\xbc\xa0\xe4\xbc\x9f \xf0\x9f\x98\x80 Zo\xc3\xab",  // 张伟 😀 Zoë
      "-- comment /* open",
      "x' OR '1'='1",
      "\xf0\x9f\x98\x80",
  };
  std::vector<std::string> ids;
  for (const auto& n : names) {
    id_card_fields f = name_only(n);
    f.organization = n;
    auto c = repo_->create(f);
    ASSERT_TRUE(c.ok()) << n << ": " << c.err().to_string();
    ids.push_back(c->id);
    auto g = repo_->get(c->id);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->full_name, n);
    EXPECT_EQ(g->organization, n);
  }
  // A megabyte is refused as too long, not truncated or crashing.
  id_card_fields huge = name_only(std::string(1 << 20, '\''));
  auto h = repo_->create(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.err().code, errc::invalid_argument);
  huge = name_only("fine");
  huge.role = std::string(1 << 20, '\xff');
  h = repo_->create(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.err().code, errc::invalid_argument);
  // The table survived every name.
  auto all = list_all(100);
  EXPECT_EQ(all.size(), std::size(names));
}

TEST_P(conformance, concurrent_writers_exact_counts) {
  constexpr int n_threads = 8, per_thread = 25;
  auto shared = must_create("shared");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto c = repo_->create(name_only("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (!c.ok()) {
          ++failures;
          continue;
        }
        id_card_fields patch;
        patch.role = "r" + std::to_string(i);
        if (!repo_->update(c->id, patch).ok()) ++failures;
        id_card_fields shared_patch;
        shared_patch.role = "thread " + std::to_string(t);
        if (!repo_->update(shared.id, shared_patch).ok()) ++failures;
        photo_update pu;
        pu.status = photo_status::processing;
        pu.raw_photo_key = "raw/" + c->id;
        if (!repo_->set_photo(c->id, pu).ok()) ++failures;
        if (!repo_->list(5, "").ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = list_all(100);
  EXPECT_EQ(all.size(), static_cast<size_t>(n_threads * per_thread + 1));
  std::set<std::string> ids;
  for (const auto& c : all) ids.insert(c.id);
  EXPECT_EQ(ids.size(), all.size());
  auto keys = repo_->referenced_keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), static_cast<size_t>(n_threads * per_thread));
  EXPECT_EQ(repo_->get(shared.id)->role.rfind("thread ", 0), 0u);
}

TEST_P(conformance, migrations_apply_once) {
  auto url = backend_->fresh_url();
  ASSERT_TRUE(url.ok()) << url.err().to_string();
  open_report first;
  auto r1 = open_repository(*url, &first);
  ASSERT_TRUE(r1.ok()) << r1.err().to_string();
  EXPECT_EQ(first.migrations_applied, static_cast<int>(all_migrations().size()));
  EXPECT_EQ(first.schema_version, latest_version());
  auto card = (*r1)->create(name_only("survives reopen"));
  ASSERT_TRUE(card.ok());
  r1->reset();
  open_report second;
  second.migrations_applied = -1;
  auto r2 = open_repository(*url, &second);
  ASSERT_TRUE(r2.ok()) << r2.err().to_string();
  EXPECT_EQ(second.migrations_applied, 0);
  EXPECT_EQ(second.schema_version, latest_version());
  auto g = (*r2)->get(card->id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->full_name, "survives reopen");
  // A third open while the second is still open applies nothing either.
  open_report third;
  auto r3 = open_repository(*url, &third);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(third.migrations_applied, 0);
}

TEST_P(conformance, concurrent_open_applies_once) {
  auto url = backend_->fresh_url();
  ASSERT_TRUE(url.ok()) << url.err().to_string();
  constexpr int n_openers = 4;
  std::vector<open_report> reports(n_openers);
  std::vector<std::string> errors(n_openers);
  std::vector<std::thread> threads;
  for (int i = 0; i < n_openers; ++i)
    threads.emplace_back([&, i] {
      auto r = open_repository(*url, &reports[i]);
      if (!r.ok()) errors[i] = r.err().to_string();
    });
  for (auto& t : threads) t.join();
  int total = 0;
  for (int i = 0; i < n_openers; ++i) {
    EXPECT_EQ(errors[i], "") << "opener " << i;
    EXPECT_EQ(reports[i].schema_version, latest_version());
    total += reports[i].migrations_applied;
  }
  EXPECT_EQ(total, static_cast<int>(all_migrations().size()));
}

TEST_P(conformance, referenced_keys_lists_raw_and_clean) {
  auto empty = repo_->referenced_keys();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto a = must_create("a");
  auto b = must_create("b");
  must_create("no photo");
  photo_update ua;
  ua.raw_photo_key = "raw/a";
  ua.clean_photo_key = "clean/a";
  ua.status = photo_status::clean;
  ASSERT_TRUE(repo_->set_photo(a.id, ua).ok());
  photo_update ub;
  ub.raw_photo_key = "raw/b";
  ub.status = photo_status::processing;
  ASSERT_TRUE(repo_->set_photo(b.id, ub).ok());
  auto keys = repo_->referenced_keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(std::set<std::string>(keys->begin(), keys->end()), (std::set<std::string>{"raw/a", "clean/a", "raw/b"}));
  EXPECT_EQ(keys->size(), 3u);
  ASSERT_TRUE(repo_->remove(a.id).ok());
  keys = repo_->referenced_keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, std::vector<std::string>{"raw/b"});
}

// A card with a raw photo and a clean one, recorded now; its state after.
id_card with_raw_and_clean(repository& repo, const std::string& id, const std::string& raw_key) {
  photo_update u;
  u.raw_photo_url = "http://x/files/" + raw_key;
  u.raw_photo_key = raw_key;
  u.clean_photo_url = "http://x/files/clean/" + id;
  u.clean_photo_key = "clean/" + id;
  u.status = photo_status::clean;
  auto c = repo.set_photo(id, u);
  EXPECT_TRUE(c.ok()) << c.err().to_string();
  return c.ok() ? *c : id_card{};
}

TEST_P(conformance, raw_photo_at_follows_the_raw_photo) {
  auto c = must_create("raw time");
  EXPECT_EQ(c.raw_photo_at, "") << "no photo yet";
  photo_update u;
  u.raw_photo_url = "http://x/files/raw/1";
  u.raw_photo_key = "raw/1";
  u.status = photo_status::processing;
  auto first = repo_->set_photo(c.id, u);
  ASSERT_TRUE(first.ok()) << first.err().to_string();
  EXPECT_TRUE(is_valid_timestamp(first->raw_photo_at)) << first->raw_photo_at;
  EXPECT_EQ(first->raw_photo_at, first->updated_at) << "recorded by this write";
  // The same raw photo, now with its clean one: the time stays.
  u.clean_photo_key = "clean/1";
  u.status = photo_status::clean;
  auto cleaned = repo_->set_photo(c.id, u);
  ASSERT_TRUE(cleaned.ok());
  EXPECT_EQ(cleaned->raw_photo_at, first->raw_photo_at);
  EXPECT_GT(cleaned->updated_at, first->updated_at);
  EXPECT_EQ(repo_->get(c.id)->raw_photo_at, first->raw_photo_at);
  // A new raw photo: a new time.
  u.raw_photo_key = "raw/2";
  auto second = repo_->set_photo(c.id, u);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->raw_photo_at, second->updated_at);
  EXPECT_GT(second->raw_photo_at, first->raw_photo_at);
  // No raw photo: no time.
  u.raw_photo_key = "";
  u.raw_photo_url = "";
  auto none = repo_->set_photo(c.id, u);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->raw_photo_at, "");
  // PATCH does not move it.
  auto p = with_raw_and_clean(*repo_, c.id, "raw/3");
  id_card_fields f;
  f.role = "patched";
  auto patched = repo_->update(c.id, f);
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched->raw_photo_at, p.raw_photo_at);
}

TEST_P(conformance, list_expired_raw_needs_an_old_raw_and_a_clean_photo) {
  auto old_clean = must_create("old raw, clean");
  auto old_failed = must_create("old raw, failed");
  auto old_processing = must_create("old raw, processing");
  must_create("no photo");
  with_raw_and_clean(*repo_, old_clean.id, "raw/old-clean");
  photo_update f;
  f.raw_photo_key = "raw/old-failed";
  f.status = photo_status::failed;
  f.photo_error = "internal: cleaning failed on our side";
  ASSERT_TRUE(repo_->set_photo(old_failed.id, f).ok());
  photo_update pr;
  pr.raw_photo_key = "raw/old-processing";
  pr.status = photo_status::processing;
  ASSERT_TRUE(repo_->set_photo(old_processing.id, pr).ok());
  auto young = must_create("young raw, clean");
  const id_card y = with_raw_and_clean(*repo_, young.id, "raw/young");

  // Cutoff = the young card's time: strictly older ones only.
  auto listed = repo_->list_expired_raw(y.raw_photo_at, 100);
  ASSERT_TRUE(listed.ok()) << listed.err().to_string();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].card_id, old_clean.id);
  EXPECT_EQ((*listed)[0].raw_photo_key, "raw/old-clean");
  EXPECT_LT((*listed)[0].raw_photo_at, y.raw_photo_at);
  // Far in the future: both clean cards, oldest first; never the failed or processing ones.
  auto all = repo_->list_expired_raw("9999-12-31T23:59:59.999Z", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].card_id, old_clean.id);
  EXPECT_EQ((*all)[1].card_id, young.id);
  auto one = repo_->list_expired_raw("9999-12-31T23:59:59.999Z", 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].card_id, old_clean.id);
  auto past = repo_->list_expired_raw("2000-01-01T00:00:00.000Z", 100);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->empty());
  // Bad arguments.
  for (int limit : {0, -1, 1001})
    EXPECT_EQ(repo_->list_expired_raw(y.raw_photo_at, limit).err().code, errc::invalid_argument) << limit;
  for (const char* ts :
       {"", "yesterday", "2026-13-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z' OR '1'='1", "2026-01-01 00:00:00"})
    EXPECT_EQ(repo_->list_expired_raw(ts, 10).err().code, errc::invalid_argument) << ts;
}

TEST_P(conformance, clear_raw_photo_only_while_the_key_is_the_one_listed) {
  auto c = must_create("clear me");
  const id_card before = with_raw_and_clean(*repo_, c.id, "raw/listed");
  // Another raw photo recorded between the list and the clear: the clear refuses, the new one stays.
  const id_card replaced = with_raw_and_clean(*repo_, c.id, "raw/new");
  auto refused = repo_->clear_raw_photo(c.id, "raw/listed");
  ASSERT_TRUE(refused.ok()) << refused.err().to_string();
  EXPECT_FALSE(*refused);
  auto kept = repo_->get(c.id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->raw_photo_key, "raw/new");
  EXPECT_EQ(kept->raw_photo_at, replaced.raw_photo_at);
  EXPECT_EQ(kept->updated_at, replaced.updated_at) << "a refused clear writes nothing";
  // The current key: cleared, the rest as it was.
  auto cleared = repo_->clear_raw_photo(c.id, "raw/new");
  ASSERT_TRUE(cleared.ok());
  EXPECT_TRUE(*cleared);
  auto after = repo_->get(c.id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->raw_photo_key, "");
  EXPECT_EQ(after->raw_photo_url, "");
  EXPECT_EQ(after->raw_photo_at, "");
  EXPECT_EQ(after->clean_photo_key, before.clean_photo_key);
  EXPECT_EQ(after->clean_photo_url, before.clean_photo_url);
  EXPECT_EQ(after->status, photo_status::clean);
  EXPECT_EQ(after->full_name, "clear me");
  EXPECT_GT(after->updated_at, replaced.updated_at);
  auto listed = repo_->list_expired_raw("9999-12-31T23:59:59.999Z", 100);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  auto keys = repo_->referenced_keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, std::vector<std::string>{before.clean_photo_key}) << "the raw key is no longer referenced";
  // Twice, an empty key, a missing card, a malformed id: nothing to clear.
  EXPECT_FALSE(*repo_->clear_raw_photo(c.id, "raw/new"));
  EXPECT_FALSE(*repo_->clear_raw_photo(c.id, ""));
  EXPECT_FALSE(*repo_->clear_raw_photo("0123456789abcdef0123456789abcdef", "raw/new"));
  EXPECT_FALSE(*repo_->clear_raw_photo("'; DROP TABLE id_cards; --", "raw/new"));
  // A card no longer clean (a new upload in progress) keeps its raw photo.
  auto d = must_create("processing");
  photo_update p;
  p.raw_photo_key = "raw/processing";
  p.status = photo_status::processing;
  ASSERT_TRUE(repo_->set_photo(d.id, p).ok());
  EXPECT_FALSE(*repo_->clear_raw_photo(d.id, "raw/processing"));
  EXPECT_EQ(repo_->get(d.id)->raw_photo_key, "raw/processing");
  // A deleted card.
  with_raw_and_clean(*repo_, d.id, "raw/gone");
  ASSERT_TRUE(repo_->remove(d.id).ok());
  EXPECT_FALSE(*repo_->clear_raw_photo(d.id, "raw/gone"));
}

// Migration 14 on a database that already holds photos: raw_photo_at = updated_at for the
// cards with a raw photo, "" for the others.
TEST_P(conformance, migration_14_backfills_raw_photo_at_from_updated_at) {
  auto url = backend_->fresh_url();
  ASSERT_TRUE(url.ok());
  {
    auto r = open_repository(*url);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
  }
  const auto pool_of = [&] {
    return GetParam() == "sqlite" ? open_sqlite_pool(url->substr(7)) : open_postgres_pool(*url, 1);
  };
  {  // back to a database from before migration 14, with two cards in it
    auto pool = pool_of();
    ASSERT_TRUE(pool.ok()) << pool.err().to_string();
    auto lease = (*pool)->acquire();
    ASSERT_TRUE(lease.ok());
    auto down = (*lease)->exec_script(
        "DROP INDEX id_cards_raw_photo_at; ALTER TABLE id_cards DROP COLUMN raw_photo_at; "
        "DELETE FROM schema_migrations WHERE version = 14");
    ASSERT_TRUE(down.ok()) << down.err().to_string();
    auto ins = (*lease)->query(
        "INSERT INTO id_cards (id, full_name, raw_photo_key, clean_photo_key, status, created_at, updated_at) "
        "VALUES ('0000000000000000000000000000000a', 'With raw', 'raw/a', 'clean/a', 'clean', "
        "'2024-01-01T00:00:00.000Z', '2024-02-03T04:05:06.789Z'), "
        "('0000000000000000000000000000000b', 'No raw', '', '', 'none', "
        "'2024-01-01T00:00:00.000Z', '2024-02-03T04:05:06.789Z')",
        {});
    ASSERT_TRUE(ins.ok()) << ins.err().to_string();
  }
  open_report rep;
  auto r = open_repository(*url, &rep);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(rep.migrations_applied, 1);
  EXPECT_EQ(rep.schema_version, latest_version());
  auto a = (*r)->get("0000000000000000000000000000000a");
  ASSERT_TRUE(a.ok()) << a.err().to_string();
  EXPECT_EQ(a->raw_photo_at, "2024-02-03T04:05:06.789Z");
  auto b = (*r)->get("0000000000000000000000000000000b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->raw_photo_at, "");
  auto listed = (*r)->list_expired_raw("2024-03-01T00:00:00.000Z", 10);
  ASSERT_TRUE(listed.ok()) << listed.err().to_string();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].card_id, "0000000000000000000000000000000a");
}

TEST_P(conformance, ping_and_name) {
  auto p = repo_->ping();
  EXPECT_TRUE(p.ok()) << p.err().to_string();
  EXPECT_EQ(repo_->backend_name(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(backends, conformance, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

// ---- not parameterised ----

TEST(db, photo_status_names) {
  for (auto s : {photo_status::none, photo_status::processing, photo_status::clean, photo_status::failed}) {
    auto back = photo_status_from(photo_status_name(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_STREQ(photo_status_name(photo_status::processing), "processing");
  EXPECT_FALSE(photo_status_from("").has_value());
  EXPECT_FALSE(photo_status_from("CLEAN").has_value());
  EXPECT_FALSE(photo_status_from(std::string("clean\0", 6)).has_value());
}

TEST(db, cursor_round_trip) {
  const std::string at = "2026-11-29T11:43:10.123Z", id = "0123456789abcdef0123456789abcdef";
  auto c = encode_cursor(at, id);
  EXPECT_EQ(c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  auto d = decode_cursor(c);
  ASSERT_TRUE(d.ok()) << d.err().to_string();
  EXPECT_EQ(d->first, at);
  EXPECT_EQ(d->second, id);
  EXPECT_FALSE(decode_cursor("").ok());
}

TEST(db, timestamps_strictly_increase) {
  std::string prev = now_timestamp();
  EXPECT_TRUE(is_valid_timestamp(prev)) << prev;
  for (int i = 0; i < 5000; ++i) {
    std::string next = now_timestamp();
    ASSERT_GT(next, prev);
    prev = next;
  }
}

TEST(db, dates_and_utf8) {
  EXPECT_TRUE(is_valid_date("2024-02-29"));
  EXPECT_TRUE(is_valid_date("2000-02-29"));
  EXPECT_FALSE(is_valid_date("1900-02-29"));
  EXPECT_FALSE(is_valid_date("2023-02-29"));
  EXPECT_TRUE(is_valid_date("0001-01-01"));
  EXPECT_FALSE(is_valid_date("2024-06-31"));
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));  // overlong
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));
}

TEST(db, url_schemes) {
  const std::string dir = test::make_temp_dir();
  ASSERT_FALSE(dir.empty());
  for (const std::string& url : {"sqlite:" + dir + "/a.db", "sqlite://" + dir + "/b.db", dir + "/c.db",
                                 dir + "/nested/dirs/d.db", std::string(":memory:"), std::string("sqlite::memory:")}) {
    auto r = open_repository(url);
    ASSERT_TRUE(r.ok()) << url << ": " << r.err().to_string();
    EXPECT_EQ((*r)->backend_name(), "sqlite");
    EXPECT_TRUE((*r)->create(name_only("x")).ok()) << url;
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/a.db"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/b.db"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/nested/dirs/d.db"));
  for (const char* url : {"mysql://localhost/db", "http://example.com/x", "redis://x", "sqlite:", "sqlite://"}) {
    auto r = open_repository(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << url << ": " << r.err().to_string();
  }
  // "" is data/idphoto.db under the working directory.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  {
    auto r = open_repository("");
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    EXPECT_TRUE(std::filesystem::exists(dir + "/data/idphoto.db"));
  }
  std::filesystem::current_path(cwd);
  test::remove_tree(dir);
}

TEST(db, sqlite_bad_files) {
  const std::string dir = test::make_temp_dir();
  ASSERT_FALSE(dir.empty());
  {
    std::ofstream(dir + "/junk.db") << std::string(8192, 'j');
    auto r = open_repository(dir + "/junk.db");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::corrupt) << r.err().to_string();
  }
  {
    std::ofstream(dir + "/file") << "x";
    auto r = open_repository(dir + "/file/sub/db.sqlite");  // a parent that is a file
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::io) << r.err().to_string();
  }
  test::remove_tree(dir);
}

TEST(db, postgres_unreachable_is_unavailable) {
  const std::string dir = test::make_temp_dir();  // empty: no socket in it
  auto r = open_repository("postgresql:///idphoto_test?host=" + dir + "&user=postgres");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().to_string();
  r = open_repository("postgres://postgres@127.0.0.1:1/idphoto_test?connect_timeout=2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().to_string();
  test::remove_tree(dir);
}

// Its own throwaway server: started, used, stopped under the open repository, restarted.
TEST(db, postgres_server_stopped_then_back) {
  const std::string dir = test::make_temp_dir();
  ASSERT_FALSE(dir.empty());
  const std::string server = dir + "/pg";
  std::string url;
  ASSERT_EQ(test::run_pg_test_server("start " + server, &url), 0) << url;
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  ASSERT_EQ(url.rfind("postgresql://", 0), 0u) << url;
  auto r = open_repository(url);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  auto& repo = **r;
  EXPECT_TRUE(repo.ping().ok());
  auto card = repo.create(name_only("before the outage"));
  ASSERT_TRUE(card.ok());

  // Stop the server but keep its data (pg_ctl directly, so the cluster survives).
  std::string cluster;
  std::getline(std::ifstream(server + "/cluster_dir"), cluster);
  ASSERT_FALSE(cluster.empty());
  const std::string pg_ctl_stop = std::string(geteuid() == 0 ? "runuser -u postgres -- " : "") +
                                  "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl -D " + cluster +
                                  "/data -m fast -w stop >/dev/null";
  ASSERT_EQ(std::system(pg_ctl_stop.c_str()), 0);
  auto p = repo.ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable) << p.err().to_string();
  auto g = repo.get(card->id);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.err().code, errc::unavailable) << g.err().to_string();
  auto c = repo.create(name_only("during the outage"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, errc::unavailable) << c.err().to_string();
  auto again = open_repository(url);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::unavailable);

  // Back up: the same repository reconnects.
  ASSERT_EQ(test::run_pg_test_server("start " + server, nullptr), 0);
  EXPECT_TRUE(repo.ping().ok());
  auto back = repo.get(card->id);
  ASSERT_TRUE(back.ok()) << back.err().to_string();
  EXPECT_EQ(back->full_name, "before the outage");
  r->reset();
  EXPECT_EQ(test::run_pg_test_server("stop " + server, nullptr), 0);
  EXPECT_FALSE(std::filesystem::exists(server));
  test::remove_tree(dir);
}

}  // namespace
