// The spec catalogue: config/specs/*.json parsed and validated (nlohmann::json stays in
// this file), resolution of a spec at a dpi, and lookups by name.
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "pipeline/id_spec.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;
using base::result;
using json = nlohmann::json;

namespace {

constexpr size_t max_file_bytes = 64 * 1024;
constexpr int max_depth = 8;
constexpr size_t max_string_bytes = 2048;
constexpr size_t max_array_items = 64;

/* A pass over the raw text before the parser sees it: nlohmann's parser recurses per
 * nesting level, so "[[[[..." a million deep would overflow the stack. Counting brackets
 * outside strings (with escapes skipped) bounds the depth in O(n) without recursion. */
result<void> check_shape(const std::string& file, const std::string& text) {
  if (text.empty()) return make_error(errc::invalid_argument, file + ": empty");
  if (text.size() > max_file_bytes)
    return make_error(errc::invalid_argument, file + ": larger than " + std::to_string(max_file_bytes) + " bytes");
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth)
        return make_error(errc::invalid_argument, file + ": nested deeper than " + std::to_string(max_depth));
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '\0') {
      return make_error(errc::invalid_argument, file + ": NUL byte");
    }
  }
  return {};
}

// Field readers: each checks the type and names file + path on failure.
struct reader {
  const std::string& file;

  base::error bad(const std::string& path, const std::string& why) const {
    return make_error(errc::invalid_argument, file + ": " + path + ": " + why);
  }
  result<void> only_keys(const json& o, const std::string& path, std::initializer_list<const char*> keys) const {
    if (!o.is_object()) return bad(path, "must be an object");
    std::set<std::string> allowed(keys.begin(), keys.end());
    for (auto it = o.begin(); it != o.end(); ++it)
      if (!allowed.count(it.key())) return bad(path + "." + it.key(), "unknown key");
    return {};
  }
  result<std::string> str(const json& o, const char* key, const std::string& path, bool required = true) const {
    const auto it = o.find(key);
    if (it == o.end()) {
      if (required) return bad(path + "." + key, "missing");
      return std::string();
    }
    if (!it->is_string()) return bad(path + "." + key, "must be a string");
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max_string_bytes)
      return bad(path + "." + key, "longer than " + std::to_string(max_string_bytes) + " bytes");
    for (unsigned char ch : s)
      if (ch < 0x20) return bad(path + "." + key, "control character");
    return s;
  }
  result<double> num(const json& o, const char* key, const std::string& path) const {
    const auto it = o.find(key);
    if (it == o.end()) return bad(path + "." + key, "missing");
    if (!it->is_number()) return bad(path + "." + key, "must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) return bad(path + "." + key, "not finite");
    return v;
  }
  result<const json*> obj(const json& o, const char* key, const std::string& path, bool required = true) const {
    const auto it = o.find(key);
    if (it == o.end()) {
      if (required) return bad(path + "." + key, "missing");
      return static_cast<const json*>(nullptr);
    }
    if (!it->is_object()) return bad(path + "." + key, "must be an object");
    return &*it;
  }
  result<const json*> arr(const json& o, const char* key, const std::string& path) const {
    const auto it = o.find(key);
    if (it == o.end()) return bad(path + "." + key, "missing");
    if (!it->is_array()) return bad(path + "." + key, "must be an array");
    if (it->size() > max_array_items)
      return bad(path + "." + key, "more than " + std::to_string(max_array_items) + " items");
    return &*it;
  }
};

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return s.front() != '-' && s.back() != '-';
}

result<image::rgb8> parse_hex(const std::string& s) {
  if (auto c = image::parse_hex_rgb(s)) return *c;
  return make_error(errc::invalid_argument, "colour '" + s + "' is not #RRGGBB");
}

// mm per unit of a length ("fraction" handled by the caller).
double mm_per(const std::string& unit) { return unit == "in" ? 25.4 : 1.0; }

result<void> load_common(const reader& r, const json& root, spec_catalogue& cat) {
  IDPHOTO_TRY(r.only_keys(root, "$", {"sources", "colours"}));
  auto sources = r.arr(root, "sources", "$");
  IDPHOTO_TRY(sources);
  for (size_t i = 0; i < (*sources)->size(); ++i) {
    const json& s = (**sources)[i];
    const std::string path = "$.sources[" + std::to_string(i) + "]";
    IDPHOTO_TRY(r.only_keys(s, path, {"id", "document", "section", "date", "url", "note"}));
    source_doc d;
    auto id = r.str(s, "id", path);
    IDPHOTO_TRY(id);
    if (!valid_name(*id)) return r.bad(path + ".id", "must be lower-case letters, digits and '-'");
    if (cat.find_source(*id)) return r.bad(path + ".id", "duplicate source '" + *id + "'");
    d.id = *id;
    auto doc = r.str(s, "document", path);
    IDPHOTO_TRY(doc);
    if (doc->empty()) return r.bad(path + ".document", "empty");
    d.document = *doc;
    auto sec = r.str(s, "section", path);
    IDPHOTO_TRY(sec);
    d.section = *sec;
    auto date = r.str(s, "date", path);
    IDPHOTO_TRY(date);
    if (date->empty()) return r.bad(path + ".date", "empty (say 'undated web page' if it has none)");
    d.date = *date;
    auto url = r.str(s, "url", path, false);
    IDPHOTO_TRY(url);
    d.url = *url;
    auto note = r.str(s, "note", path, false);
    IDPHOTO_TRY(note);
    d.note = *note;
    cat.sources.push_back(std::move(d));
  }
  auto colours = r.arr(root, "colours", "$");
  IDPHOTO_TRY(colours);
  for (size_t i = 0; i < (*colours)->size(); ++i) {
    const json& c = (**colours)[i];
    const std::string path = "$.colours[" + std::to_string(i) + "]";
    IDPHOTO_TRY(r.only_keys(c, path, {"name", "rgb", "note"}));
    auto name = r.str(c, "name", path);
    IDPHOTO_TRY(name);
    if (!valid_name(*name)) return r.bad(path + ".name", "must be lower-case letters, digits and '-'");
    for (const auto& k : cat.colours)
      if (k.name == *name) return r.bad(path + ".name", "duplicate colour '" + *name + "'");
    auto hex = r.str(c, "rgb", path);
    IDPHOTO_TRY(hex);
    auto rgb = parse_hex(*hex);
    if (!rgb) return r.bad(path + ".rgb", rgb.err().detail);
    auto note = r.str(c, "note", path, false);
    IDPHOTO_TRY(note);
    cat.colours.push_back({*name, *rgb});
  }
  return {};
}

struct raw_band {
  double min = 0, max = 0;
  std::string unit, source;
  bool authority = true;
};

result<raw_band> read_band(const reader& r, const json& o, const std::string& path, bool with_authority) {
  if (with_authority) IDPHOTO_TRY(r.only_keys(o, path, {"min", "max", "unit", "source", "authority"}));
  else IDPHOTO_TRY(r.only_keys(o, path, {"min", "max", "unit", "source"}));
  raw_band b;
  auto mn = r.num(o, "min", path);
  IDPHOTO_TRY(mn);
  auto mx = r.num(o, "max", path);
  IDPHOTO_TRY(mx);
  auto unit = r.str(o, "unit", path);
  IDPHOTO_TRY(unit);
  auto src = r.str(o, "source", path);
  IDPHOTO_TRY(src);
  if (*unit != "mm" && *unit != "in" && *unit != "fraction") return r.bad(path + ".unit", "must be mm, in or fraction");
  if (!(*mn > 0)) return r.bad(path + ".min", "must be > 0");
  if (*mn > *mx) return r.bad(path, "min is larger than max");
  b.min = *mn;
  b.max = *mx;
  b.unit = *unit;
  b.source = *src;
  if (with_authority) {
    const auto it = o.find("authority");
    if (it != o.end()) {
      if (!it->is_boolean()) return r.bad(path + ".authority", "must be true or false");
      b.authority = it->get<bool>();
    }
  }
  return b;
}

// The band as fractions of the height; it must lie inside (0, 1].
result<band> to_fraction(const reader& r, const raw_band& b, double height_mm, const std::string& path) {
  band f;
  if (b.unit == "fraction") {
    f = {b.min, b.max};
  } else {
    f = {b.min * mm_per(b.unit) / height_mm, b.max * mm_per(b.unit) / height_mm};
  }
  if (!(f.min > 0 && f.max <= 1.0 + 1e-9)) return r.bad(path, "outside the photo's height");
  return f;
}

result<id_spec> load_spec(const reader& r, const json& root, const spec_catalogue& cat) {
  IDPHOTO_TRY(r.only_keys(
      root, "$",
      {"name", "title", "size", "pixels", "dpi", "head", "eyes", "crown_margin", "background", "file", "notes"}));
  id_spec s;
  auto need_source = [&](const std::string& path, const std::string& id, const char* field) -> result<void> {
    if (!cat.find_source(id)) return r.bad(path + ".source", "unknown source '" + id + "'");
    s.sources.push_back({field, id});
    return {};
  };
  auto name = r.str(root, "name", "$");
  IDPHOTO_TRY(name);
  if (!valid_name(*name)) return r.bad("$.name", "must be lower-case letters, digits and '-'");
  s.name = *name;
  auto title = r.str(root, "title", "$");
  IDPHOTO_TRY(title);
  if (title->empty()) return r.bad("$.title", "empty");
  s.title = *title;

  auto size = r.obj(root, "size", "$");
  IDPHOTO_TRY(size);
  IDPHOTO_TRY(r.only_keys(**size, "$.size", {"width", "height", "unit", "source"}));
  auto w = r.num(**size, "width", "$.size");
  IDPHOTO_TRY(w);
  auto h = r.num(**size, "height", "$.size");
  IDPHOTO_TRY(h);
  auto unit = r.str(**size, "unit", "$.size");
  IDPHOTO_TRY(unit);
  if (*unit != "mm" && *unit != "in") return r.bad("$.size.unit", "must be mm or in");
  if (!(*w > 0) || !(*h > 0)) return r.bad("$.size", "width and height must be > 0");
  s.width_mm = *w * mm_per(*unit);
  s.height_mm = *h * mm_per(*unit);
  if (s.width_mm > 300 || s.height_mm > 300) return r.bad("$.size", "larger than 300 mm");
  auto ssrc = r.str(**size, "source", "$.size");
  IDPHOTO_TRY(ssrc);
  IDPHOTO_TRY(need_source("$.size", *ssrc, "size"));

  auto px = r.obj(root, "pixels", "$", false);
  IDPHOTO_TRY(px);
  auto dpi = r.obj(root, "dpi", "$", false);
  IDPHOTO_TRY(dpi);
  if (*px && *dpi) return r.bad("$", "give pixels or dpi, not both (dpi follows from pixels)");
  if (!*px && !*dpi) return r.bad("$", "missing pixels or dpi");
  if (*px) {
    IDPHOTO_TRY(r.only_keys(**px, "$.pixels", {"width", "height", "source"}));
    auto pw = r.num(**px, "width", "$.pixels");
    IDPHOTO_TRY(pw);
    auto ph = r.num(**px, "height", "$.pixels");
    IDPHOTO_TRY(ph);
    if (!(*pw >= 16 && *pw <= 10000 && *ph >= 16 && *ph <= 10000) || *pw != std::floor(*pw) || *ph != std::floor(*ph))
      return r.bad("$.pixels", "width and height must be whole numbers 16..10000");
    s.width_px = static_cast<int>(*pw);
    s.height_px = static_cast<int>(*ph);
    s.dpi = s.width_px / (s.width_mm / 25.4);
    const double dpi_h = s.height_px / (s.height_mm / 25.4);
    if (std::fabs(dpi_h - s.dpi) > 0.01 * s.dpi)
      return r.bad("$.pixels", "aspect ratio differs from the size's by more than 1 %");
    s.pixels_from_authority = true;
    auto psrc = r.str(**px, "source", "$.pixels");
    IDPHOTO_TRY(psrc);
    IDPHOTO_TRY(need_source("$.pixels", *psrc, "pixels"));
  } else {
    IDPHOTO_TRY(r.only_keys(**dpi, "$.dpi", {"value", "source"}));
    auto v = r.num(**dpi, "value", "$.dpi");
    IDPHOTO_TRY(v);
    if (!(*v >= 72 && *v <= 1200)) return r.bad("$.dpi.value", "must be 72..1200");
    s.dpi = *v;
    s.width_px = static_cast<int>(std::lround(s.width_mm / 25.4 * s.dpi));
    s.height_px = static_cast<int>(std::lround(s.height_mm / 25.4 * s.dpi));
    auto dsrc = r.str(**dpi, "source", "$.dpi");
    IDPHOTO_TRY(dsrc);
    IDPHOTO_TRY(need_source("$.dpi", *dsrc, "dpi"));
  }

  auto head = r.obj(root, "head", "$");
  IDPHOTO_TRY(head);
  auto hb = read_band(r, **head, "$.head", false);
  IDPHOTO_TRY(hb);
  auto hf = to_fraction(r, *hb, s.height_mm, "$.head");
  IDPHOTO_TRY(hf);
  s.head = *hf;
  IDPHOTO_TRY(need_source("$.head", hb->source, "head"));

  auto eyes = r.obj(root, "eyes", "$");
  IDPHOTO_TRY(eyes);
  auto eb = read_band(r, **eyes, "$.eyes", true);
  IDPHOTO_TRY(eb);
  auto ef = to_fraction(r, *eb, s.height_mm, "$.eyes");
  IDPHOTO_TRY(ef);
  if (ef->max >= 1.0) return r.bad("$.eyes", "the eye line must be below the top edge");
  s.eyes = *ef;
  s.eyes_from_authority = eb->authority;
  IDPHOTO_TRY(need_source("$.eyes", eb->source, "eyes"));

  auto top = r.obj(root, "crown_margin", "$", false);
  IDPHOTO_TRY(top);
  if (*top) {
    auto tb = read_band(r, **top, "$.crown_margin", false);
    IDPHOTO_TRY(tb);
    auto tf = to_fraction(r, *tb, s.height_mm, "$.crown_margin");
    IDPHOTO_TRY(tf);
    if (tf->max + s.head.min > 1.0)
      return r.bad("$.crown_margin", "margin plus the smallest head is taller than the photo");
    s.crown_margin = *tf;
    IDPHOTO_TRY(need_source("$.crown_margin", tb->source, "crown_margin"));
  }

  auto bg = r.obj(root, "background", "$");
  IDPHOTO_TRY(bg);
  IDPHOTO_TRY(r.only_keys(**bg, "$.background", {"colours", "source"}));
  auto cols = r.arr(**bg, "colours", "$.background");
  IDPHOTO_TRY(cols);
  if ((*cols)->empty()) return r.bad("$.background.colours", "empty");
  for (const auto& c : **cols) {
    if (!c.is_string()) return r.bad("$.background.colours", "must be colour names");
    const auto& n = c.get_ref<const std::string&>();
    const named_colour* found = nullptr;
    for (const auto& k : cat.colours)
      if (k.name == n) found = &k;
    if (!found) return r.bad("$.background.colours", "unknown colour '" + n.substr(0, 40) + "'");
    for (const auto& k : s.backgrounds)
      if (k.name == n) return r.bad("$.background.colours", "duplicate colour '" + n + "'");
    s.backgrounds.push_back(*found);
  }
  auto bsrc = r.str(**bg, "source", "$.background");
  IDPHOTO_TRY(bsrc);
  IDPHOTO_TRY(need_source("$.background", *bsrc, "background"));

  auto file = r.obj(root, "file", "$", false);
  IDPHOTO_TRY(file);
  if (*file) {
    IDPHOTO_TRY(r.only_keys(**file, "$.file", {"format", "max_kb", "min_kb", "source"}));
    auto fmt = r.str(**file, "format", "$.file");
    IDPHOTO_TRY(fmt);
    if (*fmt == "jpeg") s.file_format = image::format::jpeg;
    else if (*fmt == "png") s.file_format = image::format::png;
    else return r.bad("$.file.format", "must be jpeg or png");
    for (const char* k : {"max_kb", "min_kb"}) {
      if (!(**file).contains(k)) continue;
      auto v = r.num(**file, k, "$.file");
      IDPHOTO_TRY(v);
      if (!(*v >= 1 && *v <= 100000) || *v != std::floor(*v))
        return r.bad(std::string("$.file.") + k, "must be a whole number 1..100000");
      (std::string(k) == "max_kb" ? s.max_kb : s.min_kb) = static_cast<int>(*v);
    }
    if (s.max_kb && s.min_kb > s.max_kb) return r.bad("$.file", "min_kb is larger than max_kb");
    auto fsrc = r.str(**file, "source", "$.file");
    IDPHOTO_TRY(fsrc);
    IDPHOTO_TRY(need_source("$.file", *fsrc, "file"));
  }

  if (root.contains("notes")) {
    auto notes = r.arr(root, "notes", "$");
    IDPHOTO_TRY(notes);
    for (const auto& n : **notes) {
      if (!n.is_string() || n.get_ref<const std::string&>().size() > max_string_bytes)
        return r.bad("$.notes", "must be strings");
      s.notes.push_back(n.get<std::string>());
    }
  }
  return s;
}

}  // namespace

const named_colour* id_spec::allowed_colour(image::rgb8 c, double max_distance) const {
  for (const auto& k : backgrounds) {
    const double dr = double(k.rgb.r) - c.r, dg = double(k.rgb.g) - c.g, db = double(k.rgb.b) - c.b;
    if (std::sqrt(dr * dr + dg * dg + db * db) <= max_distance) return &k;
  }
  return nullptr;
}

const id_spec* spec_catalogue::find(std::string_view name) const {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

const source_doc* spec_catalogue::find_source(std::string_view id) const {
  for (const auto& s : sources)
    if (s.id == id) return &s;
  return nullptr;
}

result<spec_catalogue> load_catalogue(std::span<const spec_file> files) {
  spec_catalogue cat;
  const spec_file* common = nullptr;
  for (const auto& f : files)
    if (f.name == "_common.json") common = &f;
  if (!common) return make_error(errc::invalid_argument, "spec catalogue: no _common.json (sources and colours)");
  // _common.json first: the specs refer to its sources and colours.
  std::vector<const spec_file*> order{common};
  for (const auto& f : files)
    if (&f != common) order.push_back(&f);
  for (const spec_file* f : order) {
    IDPHOTO_TRY(check_shape(f->name, f->text));
    const json root = json::parse(f->text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return make_error(errc::invalid_argument, f->name + ": not valid JSON");
    if (!root.is_object()) return make_error(errc::invalid_argument, f->name + ": the top level must be an object");
    const reader r{f->name};
    if (f == common) {
      IDPHOTO_TRY(load_common(r, root, cat));
      continue;
    }
    auto s = load_spec(r, root, cat);
    IDPHOTO_TRY(s);
    if (cat.find(s->name))
      return make_error(errc::invalid_argument, f->name + ": duplicate spec name '" + s->name + "'");
    cat.specs.push_back(std::move(*s));
  }
  if (cat.specs.empty()) return make_error(errc::invalid_argument, "spec catalogue: no specs");
  return cat;
}

const result<spec_catalogue>& builtin_catalogue() {
  static const result<spec_catalogue> cat = [] {
    const auto files = builtin_spec_files();
    return load_catalogue(files);
  }();
  return cat;
}

result<id_spec> at_dpi(const id_spec& spec, double dpi) {
  if (dpi == 0) return spec;
  if (!(dpi >= 72 && dpi <= 1200))
    return make_error(errc::invalid_argument, "dpi must be 72..1200 (got " + std::to_string(dpi) + ")");
  id_spec s = spec;
  s.dpi = dpi;
  s.width_px = static_cast<int>(std::lround(s.width_mm / 25.4 * dpi));
  s.height_px = static_cast<int>(std::lround(s.height_mm / 25.4 * dpi));
  if (s.width_px < 16 || s.height_px < 16 || s.width_px > 10000 || s.height_px > 10000)
    return make_error(errc::invalid_argument, "at " + std::to_string(dpi) + " dpi the photo would be " +
                                                  std::to_string(s.width_px) + "x" + std::to_string(s.height_px) +
                                                  " px (16..10000 allowed)");
  s.pixels_from_authority = false;
  return s;
}

std::string spec_names() {
  std::string out;
  const auto& cat = builtin_catalogue();
  if (!cat.ok()) return out;
  for (const auto& s : cat->specs) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

}  // namespace idphoto::pipeline
