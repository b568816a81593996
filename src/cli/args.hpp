// A small argv parser for the subcommands: --flag, --key value, --key=value, positionals.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::cli {

struct args {
  std::map<std::string, std::string> opts;  // "--model" -> "x"; flags map to ""
  std::vector<std::string> positional;

  bool has(const std::string& k) const { return opts.count(k) != 0; }
  std::string get(const std::string& k, const std::string& def = "") const;
  // Fails with invalid_argument naming the option when the value is not an integer in [lo, hi].
  base::result<long long> get_int(const std::string& k, long long def, long long lo, long long hi) const;
};

// value_opts take a value; flag_opts do not. Unknown options are an error.
base::result<args> parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_opts,
                              const std::set<std::string>& flag_opts);

}  // namespace idphoto::cli
