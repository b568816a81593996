// One conformance suite, run against every blob_store backend: the local directory store, the
// Cloudinary store (pointed at the local stand-in, see cloudinary_standin.hpp) and — built a
// second time with IDPHOTO_CONFORMANCE_S3, as store_s3_test — the S3 store against a real
// OpenStack Swift (s3api) that a CTest fixture starts (swift_server.hpp).
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "store/blob_store.hpp"
#include "store/cloudinary_standin.hpp"
#include "store/store_test_util.hpp"
#include "store/swift_server.hpp"

namespace idphoto::store::test {
namespace {

using base::errc;

class store_conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "local") {
      local_config c;
      c.dir = dir_.path() + "/files";
      c.public_base_url = "http://localhost:8080";
      auto s = make_local_store(c);
      ASSERT_TRUE(s.ok()) << s.err().to_string();
      store_ = std::move(*s);
    } else if (GetParam() == "s3") {
      swift_ = find_swift_server();
      ASSERT_EQ(swift_.error, "");
      auto s = make_s3_store(config_for(swift_));
      ASSERT_TRUE(s.ok()) << s.err().to_string();
      store_ = std::move(*s);
    } else {
      standin_ = std::make_unique<cloudinary_standin>("democloud", "123456789", "s3cr3t-value");
      ASSERT_TRUE(standin_->start());
      cloudinary_config c;
      c.cloud_name = "democloud";
      c.api_key = "123456789";
      c.api_secret = "s3cr3t-value";
      c.api_base_url = standin_->base_url();
      c.delivery_base_url = standin_->base_url();
      c.timeout_ms = 10000;
      auto s = make_cloudinary_store(c);
      ASSERT_TRUE(s.ok()) << s.err().to_string();
      store_ = std::move(*s);
    }
  }
  void TearDown() override {
    if (standin_) {
      EXPECT_FALSE(standin_->saw_secret()) << "the api_secret went over the wire";
      EXPECT_EQ(standin_->requests_rejected(), 0) << "the stand-in refused a client request";
      standin_->stop();
    }
  }

  // Well-formed keys that no put made.
  static std::string absent_key(const std::string& ext = "png") {
    return "clean/0123456789abcdef0123456789abcdef." + ext;
  }

  temp_dir dir_;
  swift_server swift_;
  std::unique_ptr<cloudinary_standin> standin_;
  std::unique_ptr<blob_store> store_;
};

struct type_case {
  const char* content_type;
  const char* ext;
};
const type_case k_types[] = {{"image/png", "png"},   {"image/jpeg", "jpg"},  {"image/webp", "webp"},
                             {"image/heic", "heic"}, {"image/tiff", "tiff"}, {"application/pdf", "pdf"}};

// A job's output: the caller names the blob, and a second put with that name replaces the first
// (a job run twice leaves one file, the last one's bytes).
TEST_P(store_conformance, a_named_put_replaces_and_a_bad_name_is_refused) {
  const std::string name = "00112233445566778899aabbccddeeff";
  auto a = store_->put("first", "image/png", "clean", name);
  ASSERT_TRUE(a.ok()) << a.err().to_string();
  EXPECT_EQ(a->key, "clean/" + name + ".png");
  auto b = store_->put("second", "image/png", "clean", name);
  ASSERT_TRUE(b.ok()) << b.err().to_string();
  EXPECT_EQ(b->key, a->key);
  auto got = store_->get(a->key);
  ASSERT_TRUE(got.ok()) << got.err().to_string();
  EXPECT_EQ(*got, "second");
  for (const std::string& bad :
       {std::string("00112233445566778899AABBCCDDEEFF"), std::string("0011"),
        std::string("../00112233445566778899aabbccddee"), std::string("00112233445566778899aabbccddee\0f", 32)}) {
    auto r = store_->put("x", "image/png", "clean", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << bad;
  }
  auto unnamed = store_->put("third", "image/png", "clean");
  ASSERT_TRUE(unnamed.ok());
  EXPECT_NE(unnamed->key, a->key);
}

TEST_P(store_conformance, backend_name_matches) { EXPECT_EQ(store_->backend_name(), GetParam()); }

TEST_P(store_conformance, put_get_round_trip_is_byte_identical_for_every_type_and_folder) {
  unsigned seed = 1;
  for (const char* folder : {"raw", "clean", "card"}) {
    for (const auto& t : k_types) {
      for (std::size_t n : {std::size_t{1}, std::size_t{4096}, std::size_t{1} << 20}) {
        std::string bytes = random_bytes(n, seed++);
        auto put = store_->put(bytes, t.content_type, folder);
        ASSERT_TRUE(put.ok()) << put.err().to_string();
        EXPECT_TRUE(key_has_store_shape(put->key)) << put->key;
        EXPECT_EQ(put->key.substr(0, put->key.find('/')), folder);
        EXPECT_EQ(put->key.substr(put->key.rfind('.') + 1), t.ext);
        EXPECT_FALSE(put->url.empty());
        auto got = store_->get(put->key);
        ASSERT_TRUE(got.ok()) << got.err().to_string();
        EXPECT_EQ(got->size(), bytes.size());
        EXPECT_TRUE(*got == bytes) << "bytes differ for " << put->key;
      }
    }
  }
}

TEST_P(store_conformance, bytes_with_nul_and_text_survive) {
  std::string bytes("\0\0\x89PNG\r\n\x1a\n\0end", 13);
  auto put = store_->put(bytes, "image/png", "raw");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  auto got = store_->get(put->key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, bytes);
}

TEST_P(store_conformance, url_points_at_the_key) {
  auto put = store_->put("abc", "image/jpeg", "clean");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  if (GetParam() == "local") {
    EXPECT_EQ(put->url, "http://localhost:8080/files/" + put->key);
  } else if (GetParam() == "s3") {
    // a presigned GET of the object (the bucket is private)
    const std::string object = swift_.endpoint + "/" + swift_.bucket + "/" + put->key + "?";
    EXPECT_EQ(put->url.rfind(object, 0), 0u) << put->url;
    EXPECT_NE(put->url.find("&X-Amz-Signature="), std::string::npos) << put->url;
  } else {
    // secure_url from the response: under the delivery host, ends with the public_id + ext.
    std::string id = put->key.substr(put->key.find('/') + 1);
    EXPECT_EQ(put->url.rfind(standin_->base_url() + "/democloud/image/upload/", 0), 0u) << put->url;
    EXPECT_EQ(put->url.substr(put->url.size() - id.size()), id) << put->url;
  }
}

TEST_P(store_conformance, empty_body_is_invalid_argument) {
  auto put = store_->put("", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::invalid_argument);
}

TEST_P(store_conformance, unknown_content_type_is_invalid_argument) {
  for (const char* ct : {"", "image/gif", "IMAGE/PNG", "image/png; charset=binary", "text/html", "image/jpg",
                         "application/octet-stream", "image/png\n"}) {
    auto put = store_->put("x", ct, "raw");
    ASSERT_FALSE(put.ok()) << ct;
    EXPECT_EQ(put.err().code, errc::invalid_argument) << ct;
  }
}

TEST_P(store_conformance, unknown_folder_is_invalid_argument) {
  for (const char* folder : {"", "Raw", "tmp", "../raw", "raw/..", "raw/", "/raw", "clean/x"}) {
    auto put = store_->put("x", "image/png", folder);
    ASSERT_FALSE(put.ok()) << folder;
    EXPECT_EQ(put.err().code, errc::invalid_argument) << folder;
  }
}

TEST_P(store_conformance, thousand_puts_give_distinct_well_formed_keys) {
  std::set<std::string> keys, ids;
  for (int i = 0; i < 1000; ++i) {
    auto put = store_->put("same bytes every time", "image/png", "raw");
    ASSERT_TRUE(put.ok()) << put.err().to_string();
    ASSERT_TRUE(key_has_store_shape(put->key)) << put->key;
    keys.insert(put->key);
    ids.insert(put->key.substr(4, 32));
  }
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_EQ(ids.size(), 1000u);
}

TEST_P(store_conformance, exists_and_remove_are_idempotent) {
  auto put = store_->put("hello", "image/webp", "clean");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  auto e1 = store_->exists(put->key);
  ASSERT_TRUE(e1.ok()) << e1.err().to_string();
  EXPECT_TRUE(*e1);
  ASSERT_TRUE(store_->remove(put->key).ok());
  auto e2 = store_->exists(put->key);
  ASSERT_TRUE(e2.ok()) << e2.err().to_string();
  EXPECT_FALSE(*e2);
  auto r2 = store_->remove(put->key);
  EXPECT_TRUE(r2.ok()) << r2.err().to_string();
  auto got = store_->get(put->key);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().code, errc::not_found);
}

TEST_P(store_conformance, remove_touches_only_its_key) {
  auto a = store_->put("a", "image/png", "raw");
  auto b = store_->put("b", "image/png", "raw");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store_->remove(a->key).ok());
  auto got = store_->get(b->key);
  ASSERT_TRUE(got.ok()) << got.err().to_string();
  EXPECT_EQ(*got, "b");
}

TEST_P(store_conformance, well_formed_absent_key_is_not_found) {
  for (const char* ext : {"png", "pdf"}) {
    auto got = store_->get(absent_key(ext));
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::not_found);
    auto ex = store_->exists(absent_key(ext));
    ASSERT_TRUE(ex.ok()) << ex.err().to_string();
    EXPECT_FALSE(*ex);
    EXPECT_TRUE(store_->remove(absent_key(ext)).ok());
  }
}

std::vector<std::string> hostile_keys() {
  const std::string hex = "0123456789abcdef0123456789abcdef";
  return {"",
          "../x",
          "raw/../../etc/passwd",
          "/etc/passwd",
          "/raw/" + hex + ".png",
          "raw/" + hex + ".png/..",
          "raw/../raw/" + hex + ".png",
          "./raw/" + hex + ".png",
          "raw//" + hex + ".png",
          "raw/./" + hex + ".png",
          "raw\\" + hex + ".png",
          "RAW/" + hex + ".png",
          "tmp/" + hex + ".png",
          "raw/0123456789ABCDEF0123456789ABCDEF.png",
          "raw/" + hex + ".PNG",
          "raw/" + hex + ".gif",
          "raw/" + hex + ".",
          "raw/" + hex,
          "raw/" + hex.substr(1) + ".png",
          "raw/" + hex + "0.png",
          "raw/" + hex + ".png ",
          " raw/" + hex + ".png",
          "raw/" + hex + ".png\n",
          "raw/" + hex + ".png?x=1",
          "raw/" + hex + ".png#x",
          "raw/%2e%2e/" + hex + ".png",
          std::string("raw/") + hex + ".png" + std::string(1, '\0'),
          std::string("raw/") + hex.substr(0, 16) + std::string(1, '\0') + hex.substr(17) + ".png",
          "raw/" + std::string(10000, 'a') + ".png",
          "raw/" + std::string(100000, '/'),
          "raw/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.png",
          "raw/\xef\xbc\x8e\xef\xbc\x8e/" + hex + ".png",  // fullwidth dots
          "http://evil.example/raw/" + hex + ".png",
          "raw/" + hex + ".tiff.png",
          ".tmp-" + hex};
}

TEST_P(store_conformance, hostile_keys_are_invalid_argument_everywhere) {
  for (const auto& key : hostile_keys()) {
    auto got = store_->get(key);
    ASSERT_FALSE(got.ok()) << key;
    EXPECT_EQ(got.err().code, errc::invalid_argument) << key.substr(0, 80);
    auto ex = store_->exists(key);
    ASSERT_FALSE(ex.ok()) << key.substr(0, 80);
    EXPECT_EQ(ex.err().code, errc::invalid_argument) << key.substr(0, 80);
    auto rm = store_->remove(key);
    ASSERT_FALSE(rm.ok()) << key.substr(0, 80);
    EXPECT_EQ(rm.err().code, errc::invalid_argument) << key.substr(0, 80);
    EXPECT_LT(got.err().detail.size(), 400u) << "error detail must not echo a huge key";
  }
}

TEST_P(store_conformance, concurrent_puts_from_threads_all_land) {
  constexpr int n_threads = 8, n_per_thread = 25;
  std::vector<std::vector<std::pair<std::string, std::string>>> done(n_threads);
  std::vector<std::string> failures(n_threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < n_per_thread; ++i) {
        std::string bytes = random_bytes(1000 + 97 * i, static_cast<unsigned>(t * 1000 + i));
        auto put = store_->put(bytes, "image/jpeg", i % 2 ? "raw" : "clean");
        if (!put.ok()) {
          failures[t] = put.err().to_string();
          return;
        }
        done[t].emplace_back(put->key, bytes);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> keys;
  for (int t = 0; t < n_threads; ++t) {
    EXPECT_EQ(failures[t], "") << "thread " << t;
    ASSERT_EQ(done[t].size(), static_cast<std::size_t>(n_per_thread));
    for (const auto& [key, bytes] : done[t]) {
      keys.insert(key);
      auto got = store_->get(key);
      ASSERT_TRUE(got.ok()) << got.err().to_string();
      EXPECT_TRUE(*got == bytes) << key;
    }
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(n_threads * n_per_thread));
}

TEST_P(store_conformance, ping_succeeds_when_backend_is_up) {
  auto p = store_->ping();
  EXPECT_TRUE(p.ok()) << p.err().to_string();
}

// The orphan sweep: a backend that can list its keys keeps referenced and young ones and
// removes the old unreferenced ones; one that cannot says unsupported and removes nothing.
TEST_P(store_conformance, sweep_orphans_keeps_referenced_and_young_keys_and_removes_old_ones) {
  auto a = store_->put("referenced", "image/png", "raw");
  auto b = store_->put("orphan one", "image/png", "clean");
  auto c = store_->put("orphan two", "application/pdf", "card");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::set<std::string> referenced = {a->key, "clean/not-even-a-key", ""};
  auto young = store_->sweep_orphans(referenced, 3600);
  if (!young.ok()) {
    EXPECT_EQ(young.err().code, errc::unsupported) << young.err().to_string();
    for (const auto* s : {&*a, &*b, &*c}) EXPECT_TRUE(*store_->exists(s->key)) << s->key;
    return;
  }
  EXPECT_EQ(young->removed, 0u);  // all three are younger than an hour
  EXPECT_GE(young->kept, 3u);
  for (const auto* s : {&*a, &*b, &*c}) EXPECT_TRUE(*store_->exists(s->key)) << s->key;

  auto old = store_->sweep_orphans(referenced, 0);  // now every unreferenced key is old enough
  ASSERT_TRUE(old.ok()) << old.err().to_string();
  EXPECT_EQ(old->removed, 2u);
  EXPECT_GE(old->kept, 1u);
  EXPECT_TRUE(*store_->exists(a->key));
  EXPECT_FALSE(*store_->exists(b->key));
  EXPECT_FALSE(*store_->exists(c->key));
  auto got = store_->get(a->key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "referenced");
}

TEST_P(store_conformance, sweep_orphans_refuses_a_negative_age_and_removes_nothing) {
  auto a = store_->put("unreferenced", "image/png", "raw");
  ASSERT_TRUE(a.ok());
  auto r = store_->sweep_orphans({}, -1);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.err().code == errc::invalid_argument || r.err().code == errc::unsupported) << r.err().to_string();
  EXPECT_TRUE(*store_->exists(a->key));
}

#ifdef IDPHOTO_CONFORMANCE_S3
INSTANTIATE_TEST_SUITE_P(backends, store_conformance, ::testing::Values("s3"), [](const auto& p) { return p.param; });
#else
INSTANTIATE_TEST_SUITE_P(backends, store_conformance, ::testing::Values("local", "cloudinary"),
                         [](const auto& p) { return p.param; });
#endif

}  // namespace
}  // namespace idphoto::store::test
