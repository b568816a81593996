// resolve_spec: a built-in spec by name, or a custom spec parsed from
// "custom:WxH(mm|in|px)[,key=value]..." (the same string works on the CLI and in the API).
#include <charconv>
#include <cmath>

#include "pipeline/id_spec.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;
using base::result;

namespace {

base::error bad(const std::string& why) {
  return make_error(errc::invalid_argument, "custom spec: " + why +
                                                " (form: "
                                                "custom:WxH(mm|in|px)[,head=A-B][,eyes=A-B][,top=A-B][,bg=NAME|#RRGGBB["
                                                "|...]][,dpi=N][,max-kb=N][,format=jpeg|png])");
}

// A finite positive number, the whole of s.
bool parse_num(std::string_view s, double& out) {
  if (s.empty() || s.size() > 16) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out) && out > 0;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (true) {
    const size_t next = s.find(sep, at);
    out.push_back(s.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (next == std::string_view::npos) break;
    at = next + 1;
  }
  return out;
}

result<std::optional<image::rgb8>> hex_colour(std::string_view s) {
  if (s.size() != 7 || s[0] != '#') return std::optional<image::rgb8>{};
  if (auto c = image::parse_hex_rgb(s)) return std::optional<image::rgb8>{*c};
  return bad("colour '" + std::string(s) + "' is not #RRGGBB");
}

result<id_spec> parse_custom(std::string_view text, const spec_catalogue& cat, double dpi_override) {
  if (text.size() > 512) return bad("longer than 512 characters");
  const auto parts = split(text, ',');
  // Size: "35x45mm", "2x2in", "600x600px".
  std::string_view size = parts[0];
  std::string unit;
  for (const char* u : {"mm", "in", "px"})
    if (size.size() > 2 && size.substr(size.size() - 2) == u) unit = u;
  if (unit.empty()) return bad("size '" + std::string(size.substr(0, 40)) + "' needs a unit: mm, in or px");
  size.remove_suffix(2);
  const auto wh = split(size, 'x');
  double w = 0, h = 0;
  if (wh.size() != 2 || !parse_num(wh[0], w) || !parse_num(wh[1], h))
    return bad("size must be WxH with positive numbers");
  id_spec s;
  s.name = "custom";
  s.title = "Custom spec " + std::string(text.substr(0, 80));
  double to_mm = unit == "in" ? 25.4 : 1.0;
  double dpi = 300;
  if (unit == "px") {
    if (w != std::floor(w) || h != std::floor(h) || w < 16 || h < 16 || w > 10000 || h > 10000)
      return bad("a px size must be whole numbers 16..10000");
  } else if (w * to_mm > 300 || h * to_mm > 300) {
    return bad("larger than 300 mm");
  }
  // Bands default to ICAO's fractions.
  s.head = {32.0 / 45.0, 36.0 / 45.0};
  s.eyes = {0.5, 0.7};
  s.eyes_from_authority = true;
  bool px_dpi_given = false;
  std::vector<std::string_view> colours;
  std::optional<band> head_raw, eyes_raw, top_raw;
  bool head_pct = false, eyes_pct = false, top_pct = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto kv = split(parts[i], '=');
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty())
      return bad("'" + std::string(parts[i].substr(0, 40)) + "' is not key=value");
    const std::string_view k = kv[0], v = kv[1];
    if (k == "head" || k == "eyes" || k == "top") {
      std::string_view range = v;
      const bool pct = !range.empty() && range.back() == '%';
      if (pct) range.remove_suffix(1);
      const auto ab = split(range, '-');
      band b;
      if (ab.size() != 2 || !parse_num(ab[0], b.min) || !parse_num(ab[1], b.max) || b.min > b.max)
        return bad(std::string(k) + " must be A-B with 0 < A <= B");
      (k == "head" ? head_raw : k == "eyes" ? eyes_raw : top_raw) = b;
      (k == "head" ? head_pct : k == "eyes" ? eyes_pct : top_pct) = pct;
    } else if (k == "bg") {
      colours = split(v, '|');
    } else if (k == "dpi") {
      if (!parse_num(v, dpi) || dpi < 72 || dpi > 1200) return bad("dpi must be 72..1200");
      px_dpi_given = true;
    } else if (k == "max-kb") {
      double kb = 0;
      if (!parse_num(v, kb) || kb != std::floor(kb) || kb > 100000)
        return bad("max-kb must be a whole number 1..100000");
      s.max_kb = static_cast<int>(kb);
    } else if (k == "format") {
      if (v == "jpeg" || v == "jpg") s.file_format = image::format::jpeg;
      else if (v == "png") s.file_format = image::format::png;
      else return bad("format must be jpeg or png");
    } else {
      return bad("unknown key '" + std::string(k.substr(0, 20)) + "'");
    }
  }
  if (unit == "px") {
    s.width_px = static_cast<int>(w);
    s.height_px = static_cast<int>(h);
    s.dpi = dpi;
    s.width_mm = w / dpi * 25.4;
    s.height_mm = h / dpi * 25.4;
    s.pixels_from_authority = true;
    (void)px_dpi_given;
  } else {
    s.width_mm = w * to_mm;
    s.height_mm = h * to_mm;
    s.dpi = dpi;
    s.width_px = static_cast<int>(std::lround(s.width_mm / 25.4 * dpi));
    s.height_px = static_cast<int>(std::lround(s.height_mm / 25.4 * dpi));
    if (s.width_px < 16 || s.height_px < 16 || s.width_px > 10000 || s.height_px > 10000)
      return bad("the size is " + std::to_string(s.width_px) + "x" + std::to_string(s.height_px) + " px at " +
                 std::to_string(dpi) + " dpi (16..10000 allowed)");
  }
  // Bands are in the size's unit (px for a px size) unless given as percent.
  const double height_units = unit == "px" ? h : h;
  auto frac = [&](const band& b, bool pct, const char* what) -> result<band> {
    band f = pct ? band{b.min / 100, b.max / 100} : band{b.min / height_units, b.max / height_units};
    if (!(f.min > 0 && f.max <= 1)) return bad(std::string(what) + " is outside the photo's height");
    return f;
  };
  if (head_raw) {
    auto f = frac(*head_raw, head_pct, "head");
    IDPHOTO_TRY(f);
    s.head = *f;
  }
  if (eyes_raw) {
    auto f = frac(*eyes_raw, eyes_pct, "eyes");
    IDPHOTO_TRY(f);
    if (f->max >= 1) return bad("the eye line must be below the top edge");
    s.eyes = *f;
  }
  if (top_raw) {
    auto f = frac(*top_raw, top_pct, "top");
    IDPHOTO_TRY(f);
    if (f->max + s.head.min > 1) return bad("top margin plus the smallest head is taller than the photo");
    s.crown_margin = *f;
  }
  if (colours.empty()) colours = {"white"};
  for (const auto c : colours) {
    auto hex = hex_colour(c);
    IDPHOTO_TRY(hex);
    if (*hex) {
      s.backgrounds.push_back({std::string(c), **hex});
      continue;
    }
    const named_colour* found = nullptr;
    for (const auto& k : cat.colours)
      if (k.name == c) found = &k;
    if (!found) {
      std::string names;
      for (const auto& k : cat.colours) names += (names.empty() ? "" : ", ") + k.name;
      return bad("unknown colour '" + std::string(c.substr(0, 20)) + "' (known: " + names + ", or #RRGGBB)");
    }
    s.backgrounds.push_back(*found);
  }
  for (const char* f : {"size", "dpi", "head", "eyes", "background"}) s.sources.push_back({f, "idphoto"});
  s.notes.push_back("A custom spec from the command line: its numbers are the user's, not an authority's.");
  if (dpi_override != 0 && unit != "px") return at_dpi(s, dpi_override);
  return s;
}

}  // namespace

result<id_spec> resolve_spec(std::string_view name, double dpi) {
  const auto& cat = builtin_catalogue();
  if (!cat.ok()) return cat.err();
  if (name.substr(0, 7) == "custom:") return parse_custom(name.substr(7), *cat, dpi);
  const id_spec* s = cat->find(name);
  if (!s)
    return make_error(errc::not_found, "unknown spec '" + std::string(name.substr(0, 60)) +
                                           "' (known: " + spec_names() + ", or custom:WxHmm,...)");
  if (dpi != 0) return at_dpi(*s, dpi);
  return *s;
}

}  // namespace idphoto::pipeline
