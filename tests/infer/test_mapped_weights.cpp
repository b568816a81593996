// Memory given back: large initialisers loaded from a file stay in the mapped file (no heap copy) and
// give exactly the results of the same model loaded from bytes (heap copies).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "infer/model.hpp"
#include "infer/session.hpp"
#include "infer/test_util.hpp"

using namespace idphoto::infer;
using namespace idphoto::infer::test;

namespace {

// Conv 64 -> 64, 3x3: 147 KB of fp16 weights (mapped), a 128 B fp16 bias (copied).
std::shared_ptr<model> conv_model(std::mt19937& rng) {
  model_builder b(13);
  b.input("x", {1, 64, 9, 7});
  b.output("y");
  b.initializer("w", to_f16_tensor(random_tensor(rng, {64, 64, 3, 3})));
  b.initializer("b", to_f16_tensor(random_tensor(rng, {64})));
  b.add_node("Conv", {"x", "w", "b"}, {"c"}, {{"pads", attr_ints({1, 1, 1, 1})}});
  b.add_node("Relu", {"c"}, {"y"});
  return b.build();
}

}  // namespace

TEST(mapped_weights, large_initialisers_stay_in_the_file_and_match_heap_copies) {
  std::mt19937 rng(42);
  auto built = conv_model(rng);
  const std::string bytes = serialise_model(*built);
  char path[] = "/tmp/idphoto-mapped-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);

  auto from_file = load_model(path);
  auto from_bytes = load_model_from_bytes(bytes.data(), bytes.size());
  std::remove(path);  // the mapping keeps the data alive after unlink
  ASSERT_TRUE(from_file.ok()) << from_file.err().to_string();
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.err().to_string();

  const tensor& wf = (*from_file)->initializers.at("w");
  const tensor& wb = (*from_bytes)->initializers.at("w");
  EXPECT_NE(wf.ext, nullptr) << "a 147 KB initialiser should be left in the mapped file";
  EXPECT_TRUE(wf.bytes.empty());
  EXPECT_EQ(wb.ext, nullptr);
  EXPECT_EQ((*from_file)->initializers.at("b").ext, nullptr) << "small initialisers are copied";
  ASSERT_EQ(wf.raw_size(), wb.raw_size());
  EXPECT_EQ(std::memcmp(wf.raw(), wb.raw(), wb.raw_size()), 0);

  const tensor x = random_tensor(rng, {1, 64, 9, 7});
  for (backend_kind bk : {backend_kind::onednn, backend_kind::reference})
    for (weights_mode wm : {weights_mode::streamed, weights_mode::resident}) {
      // Twice each: the second run reads weights whose pages were dropped after the first.
      for (int rep = 0; rep < 2; ++rep) {
        auto a = run_once(*from_file, options_for(bk, wm), {{"x", x}});
        auto b = run_once(*from_bytes, options_for(bk, wm), {{"x", x}});
        ASSERT_TRUE(a.ok()) << a.err().to_string();
        ASSERT_TRUE(b.ok()) << b.err().to_string();
        EXPECT_EQ(compare_exact(b->at(0).t, a->at(0).t), "") << backend_label(bk);
      }
    }
}

// trim_after_run gives the arena's pages back between runs; the next runs must still
// compute the same values (every buffer is rewritten before it is read).
TEST(trim_after_run, later_runs_give_the_same_results) {
  std::mt19937 rng(7);
  auto m = conv_model(rng);
  const tensor x = random_tensor(rng, {1, 64, 9, 7});
  for (backend_kind bk : {backend_kind::onednn, backend_kind::reference}) {
    auto plain = run_once(m, options_for(bk), {{"x", x}});
    ASSERT_TRUE(plain.ok()) << plain.err().to_string();
    session_options o = options_for(bk);
    o.trim_after_run = true;
    auto s = session::create(m, o);
    ASSERT_TRUE(s.ok());
    for (int rep = 0; rep < 3; ++rep) {
      auto r = (*s)->run({{"x", x}});
      ASSERT_TRUE(r.ok()) << r.err().to_string();
      EXPECT_EQ(compare_exact(plain->at(0).t, r->at(0).t), "") << backend_label(bk) << " run " << rep;
    }
  }
}
