// Reading settings from the environment: one lookup that tests can replace, and one reader per
// kind of value, each collecting every error (startup prints them all at once). Every module
// that has settings declares them once, as a table of env_key, and reads them with these; the
// same table is what config/idphoto.example.env is checked against (tests/base/test_env_doc).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace idphoto::base {

using env_lookup = std::function<std::optional<std::string>(const std::string& key)>;
// The process environment (getenv); nullopt when unset.
std::optional<std::string> process_env(const std::string& key);

// An unset or empty variable leaves *out alone in every reader below (the caller's default
// stands). Leading and trailing spaces/tabs are ignored. An error is appended to *errors as
// "KEY: what was expected, got 'value'" (value cut to 40 bytes; a secret's value is never
// echoed: pass secret = true).

// A decimal integer in [lo, hi].
void read_env_int(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi, int64_t* out,
                  std::vector<std::string>* errors, bool secret = false);
// Any integer type, narrowed after the range check (lo/hi must fit T).
template <class T>
void read_env_int_as(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi, T* out,
                     std::vector<std::string>* errors, bool secret = false) {
  int64_t v = static_cast<int64_t>(*out);
  read_env_int(env, key, lo, hi, &v, errors, secret);
  *out = static_cast<T>(v);
}

// A byte count in [lo, hi]: plain digits, or digits with a unit K, KiB, M, MiB, G, GiB
// (all powers of 1024; case-insensitive; "10MiB", "512k").
void read_env_bytes(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi, int64_t* out,
                    std::vector<std::string>* errors, bool secret = false);

// A duration in milliseconds in [lo_ms, hi_ms]: plain digits are milliseconds; or digits with
// ms, s, m, h ("1500", "30s", "5m").
void read_env_duration_ms(const env_lookup& env, const std::string& key, int64_t lo_ms, int64_t hi_ms, int64_t* out,
                          std::vector<std::string>* errors, bool secret = false);

// A string, taken as is (after trimming). No error is possible.
void read_env_string(const env_lookup& env, const std::string& key, std::string* out);

// A comma-separated list; items trimmed, empty items dropped.
void read_env_list(const env_lookup& env, const std::string& key, std::vector<std::string>* out);

// What a module declares about one key, for the example file's check and for `--help` texts.
enum class env_kind { integer, bytes, duration_ms, string, list, secret };
struct env_key {
  const char* name;
  env_kind kind;
  int64_t lo = 0, hi = 0;  // integer, bytes, duration_ms: the one valid range
  const char* doc = "";    // one line
};

// Each module exposes `const std::vector<base::env_key>& env_keys()` next to its
// `load_env(env, config*, errors*)`; app::env_keys() composes them (no name twice).

// Reads one declared key with the reader of its kind and the key's own range, so a range is
// written once, in the table. integer, bytes, duration_ms: into an int64_t; string, secret: into
// a string; list: into a vector. A kind that does not fit the field is reported as an error
// naming the key (a programming mistake, caught by the module's tests).
void read_env_key(const env_lookup& env, const env_key& key, int64_t* out, std::vector<std::string>* errors);
void read_env_key(const env_lookup& env, const env_key& key, std::string* out, std::vector<std::string>* errors);
void read_env_key(const env_lookup& env, const env_key& key, std::vector<std::string>* out,
                  std::vector<std::string>* errors);
// Any other integer field (int, std::size_t), narrowed after the range check.
template <class T>
void read_env_key_as(const env_lookup& env, const env_key& key, T* out, std::vector<std::string>* errors) {
  int64_t v = static_cast<int64_t>(*out);
  read_env_key(env, key, &v, errors);
  *out = static_cast<T>(v);
}

// The key of that name in the table; nullptr when it is not there.
const env_key* find_env_key(const std::vector<env_key>& keys, const std::string& name);

// The errors joined by sep ("; " inside one message, "\n" for one line each); "" when none.
std::string join_errors(const std::vector<std::string>& errors, const char* sep);

}  // namespace idphoto::base
