// Parses subcommand arguments; every unknown or malformed option is an error.
#include "cli/args.hpp"

#include <cerrno>
#include <cstdlib>

namespace idphoto::cli {

using base::errc;
using base::make_error;

std::string args::get(const std::string& k, const std::string& def) const {
  auto it = opts.find(k);
  return it == opts.end() ? def : it->second;
}

base::result<long long> args::get_int(const std::string& k, long long def, long long lo, long long hi) const {
  auto it = opts.find(k);
  if (it == opts.end()) return def;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    return make_error(errc::invalid_argument, k + " must be an integer from " + std::to_string(lo) + " to " +
                                                  std::to_string(hi) + ", got '" + it->second + "'");
  return v;
}

base::result<args> parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_opts,
                              const std::set<std::string>& flag_opts) {
  args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s.size() > 1 && s[0] == '-' && s != "-") {
      std::string key = s, val;
      bool has_val = false;
      if (auto eq = s.find('='); eq != std::string::npos && s.rfind("--", 0) == 0) {
        key = s.substr(0, eq);
        val = s.substr(eq + 1);
        has_val = true;
      }
      if (value_opts.count(key)) {
        if (!has_val) {
          if (i + 1 >= argv.size()) return make_error(errc::invalid_argument, key + " needs a value");
          val = argv[++i];
        }
        a.opts[key] = val;
      } else if (flag_opts.count(key) && !has_val) {
        a.opts[key] = "";
      } else {
        return make_error(errc::invalid_argument, "unknown option '" + s + "'");
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

}  // namespace idphoto::cli
