// base/env readers: unset and empty keep the default, trimming, every unit, overflow, negative,
// garbage, out of range, the error names the key, a secret's value is never echoed.
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "base/env.hpp"

using namespace idphoto;

namespace {

struct fake_env {
  std::map<std::string, std::string> vars;
  base::env_lookup lookup() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
};

// Reads `value` as KEY with the given reader; returns the value read or the one error.
struct outcome {
  int64_t value;
  std::vector<std::string> errors;
};
using int_reader = void (*)(const base::env_lookup&, const std::string&, int64_t, int64_t, int64_t*,
                            std::vector<std::string>*, bool);
outcome read_one(int_reader r, const std::string& value, int64_t lo = 0,
                 int64_t hi = std::numeric_limits<int64_t>::max(), bool secret = false) {
  fake_env e{{{"KEY", value}}};
  outcome o{-1, {}};
  r(e.lookup(), "KEY", lo, hi, &o.value, &o.errors, secret);
  return o;
}

TEST(env_int, unset_empty_and_blank_keep_the_default) {
  fake_env e{{{"EMPTY", ""}, {"BLANK", " \t "}}};
  std::vector<std::string> errors;
  int64_t v = 9;
  for (const char* k : {"UNSET", "EMPTY", "BLANK"}) base::read_env_int(e.lookup(), k, 0, 100, &v, &errors);
  EXPECT_EQ(v, 9);
  EXPECT_TRUE(errors.empty());
}

TEST(env_int, trims_and_reads_negative_numbers_in_range) {
  EXPECT_EQ(read_one(base::read_env_int, " \t42 ").value, 42);
  EXPECT_EQ(read_one(base::read_env_int, "-7", -10, 0).value, -7);
  EXPECT_EQ(read_one(base::read_env_int, "0", 0, 0).value, 0);
}

TEST(env_int, refuses_garbage_overflow_and_out_of_range) {
  for (const char* bad : {"ten", "12abc", "1 2", "+5", "0x10", "1.5", "99999999999999999999"}) {
    auto o = read_one(base::read_env_int, bad);
    ASSERT_EQ(o.errors.size(), 1u) << bad;
    EXPECT_EQ(o.errors[0].rfind("KEY: expected an integer, got '", 0), 0u) << o.errors[0];
    EXPECT_EQ(o.value, -1) << bad;
  }
  auto neg = read_one(base::read_env_int, "-1", 0, 100);
  ASSERT_EQ(neg.errors.size(), 1u);
  EXPECT_EQ(neg.errors[0], "KEY: must be in 0..100, got -1");
  auto high = read_one(base::read_env_int, " 101 ", 0, 100);
  ASSERT_EQ(high.errors.size(), 1u);
  EXPECT_EQ(high.errors[0], "KEY: must be in 0..100, got 101");
  EXPECT_EQ(high.value, -1);
}

TEST(env_int, read_as_narrows_after_the_range_check) {
  fake_env e{{{"PORT", "8081"}, {"BAD", "70000"}}};
  std::vector<std::string> errors;
  int port = 1;
  base::read_env_int_as(e.lookup(), "PORT", 0, 65535, &port, &errors);
  EXPECT_EQ(port, 8081);
  base::read_env_int_as(e.lookup(), "BAD", 0, 65535, &port, &errors);
  EXPECT_EQ(port, 8081);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("BAD: must be in 0..65535", 0), 0u) << errors[0];
}

TEST(env_bytes, every_unit) {
  const std::pair<const char*, int64_t> cases[] = {{"0", 0},
                                                   {"1536", 1536},
                                                   {"512k", 512 << 10},
                                                   {"512K", 512 << 10},
                                                   {"3KiB", 3 << 10},
                                                   {"3kib", 3 << 10},
                                                   {"10M", 10 << 20},
                                                   {"10MiB", 10 << 20},
                                                   {"10mib", 10 << 20},
                                                   {"2G", int64_t{2} << 30},
                                                   {"2GiB", int64_t{2} << 30},
                                                   {" 7 MiB\t", 7 << 20}};
  for (const auto& [text, want] : cases) {
    auto o = read_one(base::read_env_bytes, text);
    EXPECT_TRUE(o.errors.empty()) << text << ": " << (o.errors.empty() ? "" : o.errors[0]);
    EXPECT_EQ(o.value, want) << text;
  }
}

TEST(env_bytes, refuses_other_units_signs_garbage_and_overflow) {
  for (const char* bad : {"15MB", "1KB", "1T", "1.5M", "-1", "-1K", "+1", "M", "ten", "1 2", "1MiBs", "0x10"}) {
    auto o = read_one(base::read_env_bytes, bad);
    ASSERT_EQ(o.errors.size(), 1u) << bad;
    EXPECT_EQ(o.errors[0].rfind("KEY: expected a byte count", 0), 0u) << o.errors[0];
    EXPECT_EQ(o.value, -1) << bad;
  }
  for (const char* huge : {"99999999999999999999", "9999999999G", "9223372036854775807K"}) {
    auto o = read_one(base::read_env_bytes, huge);
    ASSERT_EQ(o.errors.size(), 1u) << huge;
    EXPECT_EQ(o.errors[0].rfind("KEY: must be in 0..", 0), 0u) << o.errors[0];
  }
  auto garbage_after_overflow = read_one(base::read_env_bytes, "99999999999999999999xyz");
  ASSERT_EQ(garbage_after_overflow.errors.size(), 1u);
  EXPECT_EQ(garbage_after_overflow.errors[0].rfind("KEY: expected a byte count", 0), 0u);
  auto over = read_one(base::read_env_bytes, "2M", 1024, 1 << 20);
  ASSERT_EQ(over.errors.size(), 1u);
  EXPECT_EQ(over.errors[0], "KEY: must be in 1024..1048576, got 2M");
  auto under = read_one(base::read_env_bytes, "1000", 1024, 1 << 20);
  ASSERT_EQ(under.errors.size(), 1u);
  EXPECT_EQ(under.value, -1);
}

TEST(env_duration, every_unit) {
  const std::pair<const char*, int64_t> cases[] = {{"1500", 1500},    {"1500ms", 1500}, {"250 ms", 250},
                                                   {"30s", 30'000},   {"30S", 30'000},  {"5m", 300'000},
                                                   {"2h", 7'200'000}, {"0", 0},         {" 1s ", 1000}};
  for (const auto& [text, want] : cases) {
    auto o = read_one(base::read_env_duration_ms, text);
    EXPECT_TRUE(o.errors.empty()) << text << ": " << (o.errors.empty() ? "" : o.errors[0]);
    EXPECT_EQ(o.value, want) << text;
  }
}

TEST(env_duration, refuses_other_units_signs_garbage_overflow_and_out_of_range) {
  for (const char* bad : {"1d", "1.5s", "-1", "-5s", "s", "ten", "1 s s", "1min", "1sec"}) {
    auto o = read_one(base::read_env_duration_ms, bad);
    ASSERT_EQ(o.errors.size(), 1u) << bad;
    EXPECT_EQ(o.errors[0].rfind("KEY: expected a duration", 0), 0u) << o.errors[0];
    EXPECT_EQ(o.value, -1);
  }
  auto huge = read_one(base::read_env_duration_ms, "9999999999999999h");
  ASSERT_EQ(huge.errors.size(), 1u);
  EXPECT_EQ(huge.errors[0].rfind("KEY: must be in 0..", 0), 0u) << huge.errors[0];
  auto high = read_one(base::read_env_duration_ms, "11m", 100, 600'000);
  ASSERT_EQ(high.errors.size(), 1u);
  EXPECT_EQ(high.errors[0], "KEY: must be in 100..600000, got 11m");
  EXPECT_EQ(read_one(base::read_env_duration_ms, "10m", 100, 600'000).value, 600'000);
}

TEST(env_errors, long_values_are_cut_and_secrets_never_shown) {
  const std::string long_value = std::string(39, 'a') + "bcdefgh";  // 46 bytes, 'b' is the 40th
  auto o = read_one(base::read_env_int, long_value);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_NE(o.errors[0].find(std::string(39, 'a') + "b"), std::string::npos) << o.errors[0];
  EXPECT_EQ(o.errors[0].find("bc"), std::string::npos) << "cut to 40 bytes: " << o.errors[0];
  EXPECT_LT(o.errors[0].size(), 40u + 60u);

  const std::string secret = "hunter2-very-secret";
  for (int_reader r : {static_cast<int_reader>(base::read_env_int), static_cast<int_reader>(base::read_env_bytes),
                       static_cast<int_reader>(base::read_env_duration_ms)}) {
    auto bad = read_one(r, secret, 0, 100, true);
    ASSERT_EQ(bad.errors.size(), 1u);
    EXPECT_EQ(bad.errors[0].find("hunter2"), std::string::npos) << bad.errors[0];
    EXPECT_EQ(bad.errors[0].rfind("KEY: ", 0), 0u) << bad.errors[0];
    auto high = read_one(r, "4242", 0, 100, true);
    ASSERT_EQ(high.errors.size(), 1u);
    EXPECT_EQ(high.errors[0].find("4242"), std::string::npos) << high.errors[0];
    EXPECT_NE(high.errors[0].find("0..100"), std::string::npos) << high.errors[0];
  }
}

TEST(env_string, trims_and_keeps_the_default_when_empty) {
  fake_env e{{{"S", "  /var/lib/x \t"}, {"EMPTY", ""}, {"BLANK", "   "}, {"INNER", "a b"}}};
  std::string s = "default";
  base::read_env_string(e.lookup(), "UNSET", &s);
  base::read_env_string(e.lookup(), "EMPTY", &s);
  base::read_env_string(e.lookup(), "BLANK", &s);
  EXPECT_EQ(s, "default");
  base::read_env_string(e.lookup(), "S", &s);
  EXPECT_EQ(s, "/var/lib/x");
  base::read_env_string(e.lookup(), "INNER", &s);
  EXPECT_EQ(s, "a b");
}

TEST(env_list, items_trimmed_and_empty_items_dropped) {
  fake_env e{{{"L", " 127.0.0.1/32, ::1 ,,10.0.0.0/8, "}, {"ONE", "x"}, {"EMPTY", ""}, {"COMMAS", " , ,"}}};
  std::vector<std::string> v = {"default"};
  base::read_env_list(e.lookup(), "UNSET", &v);
  base::read_env_list(e.lookup(), "EMPTY", &v);
  EXPECT_EQ(v, std::vector<std::string>{"default"});
  base::read_env_list(e.lookup(), "L", &v);
  EXPECT_EQ(v, (std::vector<std::string>{"127.0.0.1/32", "::1", "10.0.0.0/8"}));
  base::read_env_list(e.lookup(), "ONE", &v);
  EXPECT_EQ(v, std::vector<std::string>{"x"});
  base::read_env_list(e.lookup(), "COMMAS", &v);
  EXPECT_TRUE(v.empty()) << "a value of commas only is an empty list, not the default";
}

TEST(env_key, reads_by_the_declared_kind_and_range) {
  const base::env_key n{"N", base::env_kind::integer, 1, 64, ""};
  const base::env_key b{"B", base::env_kind::bytes, 1024, int64_t{1} << 32, ""};
  const base::env_key d{"D", base::env_kind::duration_ms, 100, 600'000, ""};
  const base::env_key s{"S", base::env_kind::string, 0, 0, ""};
  const base::env_key p{"P", base::env_kind::secret, 0, 0, ""};
  const base::env_key l{"L", base::env_kind::list, 0, 0, ""};
  fake_env e{{{"N", "65"}, {"B", "10MiB"}, {"D", "30s"}, {"S", " x "}, {"P", "pw"}, {"L", "a,b"}}};
  std::vector<std::string> errors;
  int n_out = 3;
  std::size_t b_out = 0;
  int64_t d_out = 0;
  std::string s_out, p_out;
  std::vector<std::string> l_out;
  base::read_env_key_as(e.lookup(), n, &n_out, &errors);
  base::read_env_key_as(e.lookup(), b, &b_out, &errors);
  base::read_env_key(e.lookup(), d, &d_out, &errors);
  base::read_env_key(e.lookup(), s, &s_out, &errors);
  base::read_env_key(e.lookup(), p, &p_out, &errors);
  base::read_env_key(e.lookup(), l, &l_out, &errors);
  EXPECT_EQ(n_out, 3);
  EXPECT_EQ(b_out, std::size_t{10} << 20);
  EXPECT_EQ(d_out, 30'000);
  EXPECT_EQ(s_out, "x");
  EXPECT_EQ(p_out, "pw");
  EXPECT_EQ(l_out, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "N: must be in 1..64, got 65");

  errors.clear();
  base::read_env_key(e.lookup(), s, &d_out, &errors);  // a string key read into a number
  base::read_env_key(e.lookup(), n, &s_out, &errors);  // a number key read into a string
  base::read_env_key(e.lookup(), s, &l_out, &errors);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].rfind("S: declared as string", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1].rfind("N: declared as integer", 0), 0u) << errors[1];

  const std::vector<base::env_key> table = {n, b, d};
  ASSERT_NE(base::find_env_key(table, "B"), nullptr);
  EXPECT_EQ(base::find_env_key(table, "B")->hi, int64_t{1} << 32);
  EXPECT_EQ(base::find_env_key(table, "X"), nullptr);
}

TEST(env_errors, join) {
  EXPECT_EQ(base::join_errors({}, "; "), "");
  EXPECT_EQ(base::join_errors({"a"}, "; "), "a");
  EXPECT_EQ(base::join_errors({"a", "b", "c"}, "\n"), "a\nb\nc");
}

}  // namespace
