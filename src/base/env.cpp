// The environment lookup and the readers of env.hpp: one trimming rule, one error form, one
// parser per kind of value (integer, byte count with units, duration with units, string, list).
#include "base/env.hpp"

#include <charconv>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace idphoto::base {

std::optional<std::string> process_env(const std::string& key) {
  const char* v = std::getenv(key.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

namespace {

constexpr std::string_view k_blank = " \t";
constexpr std::size_t k_echo_max = 40;

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(k_blank);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(k_blank);
  return s.substr(b, e - b + 1);
}

// The trimmed value; nullopt when unset, empty or blank (the default stands).
std::optional<std::string> value_of(const env_lookup& env, const std::string& key) {
  const auto raw = env(key);
  if (!raw) return std::nullopt;
  const std::string_view t = trim(*raw);
  if (t.empty()) return std::nullopt;
  return std::string(t);
}

// How a bad value is shown in an error: cut to k_echo_max bytes, never shown for a secret.
std::string shown(const std::string& v, bool secret, bool quoted) {
  if (secret) return "a value that is not shown (secret)";
  std::string s = v.size() > k_echo_max ? v.substr(0, k_echo_max) + "..." : v;
  return quoted ? "'" + s + "'" : s;
}

void expected(const std::string& key, const char* what, const std::string& v, bool secret,
              std::vector<std::string>* errors) {
  errors->push_back(key + ": expected " + what + ", got " + shown(v, secret, true));
}

void out_of_range(const std::string& key, int64_t lo, int64_t hi, const std::string& v, bool secret,
                  std::vector<std::string>* errors) {
  errors->push_back(key + ": must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                    shown(v, secret, false));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;  // b is lower case
  }
  return true;
}

struct unit {
  std::string_view name;  // lower case
  int64_t factor;
};

/* Digits, optional blanks, then an optional unit from the table (the empty unit = factor 1).
 * Returns false when the text is not of that form (sign, garbage, unknown unit); *overflow is
 * set when the digits or the product do not fit int64_t, which the callers report as out of
 * range (the value is well-formed, only too large). */
bool parse_with_unit(std::string_view s, const unit* units, std::size_t n_units, int64_t* v, bool* overflow) {
  *overflow = false;
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;  // no sign, no leading blank
  int64_t digits = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), digits);
  if (ec == std::errc::result_out_of_range) {
    *overflow = true;
    // Still check the suffix, so "99999999999999999999xyz" is garbage, not a large number.
  } else if (ec != std::errc()) {
    return false;
  }
  std::string_view rest = trim(std::string_view(end, static_cast<std::size_t>(s.data() + s.size() - end)));
  for (std::size_t i = 0; i < n_units; ++i) {
    if (!iequals(rest, units[i].name)) continue;
    if (*overflow) return true;
    if (digits > std::numeric_limits<int64_t>::max() / units[i].factor) {
      *overflow = true;
      return true;
    }
    *v = digits * units[i].factor;
    return true;
  }
  return false;
}

constexpr unit k_byte_units[] = {{"", 1},
                                 {"k", int64_t{1} << 10},
                                 {"kib", int64_t{1} << 10},
                                 {"m", int64_t{1} << 20},
                                 {"mib", int64_t{1} << 20},
                                 {"g", int64_t{1} << 30},
                                 {"gib", int64_t{1} << 30}};
constexpr unit k_duration_units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

template <std::size_t N>
void read_with_unit(const env_lookup& env, const std::string& key, const unit (&units)[N], const char* what, int64_t lo,
                    int64_t hi, int64_t* out, std::vector<std::string>* errors, bool secret) {
  const auto v = value_of(env, key);
  if (!v) return;
  int64_t n = 0;
  bool overflow = false;
  if (!parse_with_unit(*v, units, N, &n, &overflow)) return expected(key, what, *v, secret, errors);
  if (overflow || n < lo || n > hi) return out_of_range(key, lo, hi, *v, secret, errors);
  *out = n;
}

const char* kind_name(env_kind k) {
  switch (k) {
    case env_kind::integer:
      return "integer";
    case env_kind::bytes:
      return "bytes";
    case env_kind::duration_ms:
      return "duration_ms";
    case env_kind::string:
      return "string";
    case env_kind::list:
      return "list";
    case env_kind::secret:
      return "secret";
  }
  return "?";
}

void wrong_kind(const env_key& key, const char* field, std::vector<std::string>* errors) {
  errors->push_back(std::string(key.name) + ": declared as " + kind_name(key.kind) + " but read into " + field +
                    " (a bug in the module's env table)");
}

}  // namespace

void read_env_int(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi, int64_t* out,
                  std::vector<std::string>* errors, bool secret) {
  const auto v = value_of(env, key);
  if (!v) return;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return expected(key, "an integer", *v, secret, errors);
  if (n < lo || n > hi) return out_of_range(key, lo, hi, *v, secret, errors);
  *out = n;
}

void read_env_bytes(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi, int64_t* out,
                    std::vector<std::string>* errors, bool secret) {
  read_with_unit(env, key, k_byte_units, "a byte count (digits, optionally followed by K, KiB, M, MiB, G or GiB)", lo,
                 hi, out, errors, secret);
}

void read_env_duration_ms(const env_lookup& env, const std::string& key, int64_t lo_ms, int64_t hi_ms, int64_t* out,
                          std::vector<std::string>* errors, bool secret) {
  read_with_unit(env, key, k_duration_units, "a duration (milliseconds, or digits followed by ms, s, m or h)", lo_ms,
                 hi_ms, out, errors, secret);
}

void read_env_string(const env_lookup& env, const std::string& key, std::string* out) {
  if (auto v = value_of(env, key)) *out = std::move(*v);
}

void read_env_list(const env_lookup& env, const std::string& key, std::vector<std::string>* out) {
  const auto v = value_of(env, key);
  if (!v) return;
  out->clear();
  std::string_view rest(*v);
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (!item.empty()) out->emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

void read_env_key(const env_lookup& env, const env_key& key, int64_t* out, std::vector<std::string>* errors) {
  switch (key.kind) {
    case env_kind::integer:
      return read_env_int(env, key.name, key.lo, key.hi, out, errors);
    case env_kind::bytes:
      return read_env_bytes(env, key.name, key.lo, key.hi, out, errors);
    case env_kind::duration_ms:
      return read_env_duration_ms(env, key.name, key.lo, key.hi, out, errors);
    default:
      return wrong_kind(key, "a number", errors);
  }
}

void read_env_key(const env_lookup& env, const env_key& key, std::string* out, std::vector<std::string>* errors) {
  if (key.kind != env_kind::string && key.kind != env_kind::secret) return wrong_kind(key, "a string", errors);
  read_env_string(env, key.name, out);
}

void read_env_key(const env_lookup& env, const env_key& key, std::vector<std::string>* out,
                  std::vector<std::string>* errors) {
  if (key.kind != env_kind::list) return wrong_kind(key, "a list", errors);
  read_env_list(env, key.name, out);
}

const env_key* find_env_key(const std::vector<env_key>& keys, const std::string& name) {
  for (const auto& k : keys)
    if (name == k.name) return &k;
  return nullptr;
}

std::string join_errors(const std::vector<std::string>& errors, const char* sep) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += sep;
    out += e;
  }
  return out;
}

}  // namespace idphoto::base
