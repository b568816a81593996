// The clean_photo job's payload (JSON through nlohmann) and its error text.
#include "app/job_payload.hpp"

#include <nlohmann/json.hpp>

namespace idphoto::app {

using json = nlohmann::json;

namespace {

void put_opt(json& j, const char* k, const std::optional<std::string>& v) {
  if (v) j[k] = *v;
}
void put_opt(json& j, const char* k, const std::optional<int>& v) {
  if (v) j[k] = *v;
}
// A string or integer member when present; false when present with another type.
bool get_opt(const json& j, const char* k, std::optional<std::string>* v) {
  auto it = j.find(k);
  if (it == j.end()) return true;
  if (!it->is_string()) return false;
  *v = it->get<std::string>();
  return true;
}
bool get_opt(const json& j, const char* k, std::optional<int>* v) {
  auto it = j.find(k);
  if (it == j.end()) return true;
  if (!it->is_number_integer()) return false;
  const int64_t n = it->get<int64_t>();
  if (n < -1000000 || n > 1000000) return false;
  *v = static_cast<int>(n);
  return true;
}
bool get_str(const json& j, const char* k, std::string* v) {
  auto it = j.find(k);
  if (it == j.end() || !it->is_string()) return false;
  *v = it->get<std::string>();
  return true;
}

const base::errc all_codes[] = {
    base::errc::invalid_argument, base::errc::unsupported, base::errc::not_found, base::errc::io,
    base::errc::corrupt,          base::errc::too_large,   base::errc::internal,  base::errc::forbidden,
    base::errc::timeout,          base::errc::unavailable, base::errc::conflict};
const stage all_stages[] = {stage::request, stage::queue, stage::fetch, stage::image,
                            stage::clean,   stage::frame, stage::store, stage::database};

}  // namespace

std::string encode_payload(const clean_payload& p) {
  json o = json::object();
  put_opt(o, "bg", p.options.bg);
  put_opt(o, "maxSize", p.options.max_size_px);
  put_opt(o, "format", p.options.format);
  put_opt(o, "spec", p.options.spec);
  put_opt(o, "dpi", p.options.dpi);
  put_opt(o, "maxKb", p.options.max_kb);
  json j = {{"v", 1},       {"rawKey", p.raw_key},          {"rawUrl", p.raw_url}, {"rawType", p.raw_content_type},
            {"options", o}, {"callbackUrl", p.callback_url}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

base::result<clean_payload> decode_payload(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  const auto bad = [](const char* what) {
    return base::make_error(base::errc::corrupt, std::string("clean_photo payload: ") + what);
  };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int64_t>() != 1) return bad("unknown version");
  clean_payload p;
  if (!get_str(j, "rawKey", &p.raw_key) || p.raw_key.empty()) return bad("rawKey");
  if (!get_str(j, "rawUrl", &p.raw_url)) return bad("rawUrl");
  if (!get_str(j, "rawType", &p.raw_content_type)) return bad("rawType");
  if (!get_str(j, "callbackUrl", &p.callback_url)) return bad("callbackUrl");
  auto o = j.find("options");
  if (o == j.end() || !o->is_object()) return bad("options");
  if (!get_opt(*o, "bg", &p.options.bg) || !get_opt(*o, "maxSize", &p.options.max_size_px) ||
      !get_opt(*o, "format", &p.options.format) || !get_opt(*o, "spec", &p.options.spec) ||
      !get_opt(*o, "dpi", &p.options.dpi) || !get_opt(*o, "maxKb", &p.options.max_kb))
    return bad("an option has the wrong type");
  return p;
}

std::string job_error_text(const failure& f) {
  return std::string(base::errc_name(f.err.code)) + "/" + stage_name(f.where) + ": " + f.err.detail;
}

failure failure_of_job_error(const std::string& text) {
  const auto colon = text.find(": ");
  const auto slash = text.find('/');
  if (colon != std::string::npos && slash != std::string::npos && slash < colon) {
    const std::string code = text.substr(0, slash), where = text.substr(slash + 1, colon - slash - 1);
    for (auto c : all_codes)
      if (code == base::errc_name(c))
        for (auto s : all_stages)
          if (where == stage_name(s)) return failure{base::make_error(c, text.substr(colon + 2)), s};
  }
  return failure{base::make_error(base::errc::internal, text), stage::clean};
}

}  // namespace idphoto::app
