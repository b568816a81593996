// The spec catalogue: every built-in spec loads with the right pixels and sourced numbers;
// custom specs; and the loader refuses malformed, out-of-range and hostile JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pipeline/id_spec.hpp"

using namespace idphoto;
using pipeline::spec_file;

namespace {

std::string common_json() {
  for (const auto& f : pipeline::builtin_spec_files())
    if (f.name == "_common.json") return f.text;
  return {};
}

// A minimal valid spec file, with one replacement applied.
std::string spec_text(const std::string& from = "", const std::string& to = "") {
  std::string s = R"({"name": "t", "title": "T", "size": {"width": 35, "height": 45, "unit": "mm", "source": "idphoto"},
    "dpi": {"value": 300, "source": "idphoto"}, "head": {"min": 32, "max": 36, "unit": "mm", "source": "idphoto"},
    "eyes": {"min": 0.5, "max": 0.7, "unit": "fraction", "source": "idphoto"},
    "background": {"colours": ["white"], "source": "idphoto"}})";
  if (!from.empty()) {
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
  }
  return s;
}

base::result<pipeline::spec_catalogue> load(const std::string& spec) {
  std::vector<spec_file> files{{"_common.json", common_json()}, {"t.json", spec}};
  return pipeline::load_catalogue(files);
}

void expect_bad(const std::string& spec, const std::string& needle) {
  auto r = load(spec);
  ASSERT_FALSE(r.ok()) << "accepted: " << spec.substr(0, 200);
  EXPECT_EQ(r.err().code, base::errc::invalid_argument);
  EXPECT_NE(r.err().detail.find(needle), std::string::npos) << r.err().detail;
}

}  // namespace

TEST(id_spec, builtin_catalogue_loads) {
  const auto& cat = pipeline::builtin_catalogue();
  ASSERT_TRUE(cat.ok()) << cat.err().to_string();
  for (const char* n :
       {"icao-35x45", "uk-35x45", "us-2x2", "canada-50x70", "china-33x48", "india-35x45", "schengen-visa", "card"})
    EXPECT_NE(cat->find(n), nullptr) << n;
}

TEST(id_spec, exact_pixels_of_every_spec) {
  const struct {
    const char* name;
    int w, h;
    double dpi;
  } want[] = {{"icao-35x45", 413, 531, 300},    {"uk-35x45", 413, 531, 300},    {"us-2x2", 600, 600, 300},
              {"canada-50x70", 591, 827, 300},  {"china-33x48", 390, 567, 300}, {"india-35x45", 630, 810, 457.2},
              {"schengen-visa", 413, 531, 300}, {"card", 260, 334, 300}};
  const auto& cat = pipeline::builtin_catalogue();
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(cat->specs.size(), std::size(want)) << "a spec was added: add it here";
  for (const auto& w : want) {
    auto s = pipeline::resolve_spec(w.name);
    ASSERT_TRUE(s.ok()) << w.name;
    EXPECT_EQ(s->width_px, w.w) << w.name;
    EXPECT_EQ(s->height_px, w.h) << w.name;
    EXPECT_NEAR(s->dpi, w.dpi, 0.05) << w.name;
  }
  auto hi = pipeline::resolve_spec("icao-35x45", 600);
  ASSERT_TRUE(hi.ok());
  EXPECT_EQ(hi->width_px, 827);
  EXPECT_EQ(hi->height_px, 1063);
  auto india = pipeline::resolve_spec("india-35x45", 300);
  ASSERT_TRUE(india.ok());
  EXPECT_EQ(india->width_px, 413);
  EXPECT_FALSE(pipeline::resolve_spec("icao-35x45", 20).ok());
  EXPECT_FALSE(pipeline::resolve_spec("icao-35x45", 5000).ok());
}

TEST(id_spec, published_bands) {
  auto us = pipeline::resolve_spec("us-2x2");
  ASSERT_TRUE(us.ok());
  EXPECT_NEAR(us->head.min, 0.5, 1e-9);  // 1 in of 2 in
  EXPECT_NEAR(us->head.max, 0.6875, 1e-9);
  EXPECT_NEAR(us->eyes.min, 0.5625, 1e-9);
  EXPECT_NEAR(us->eyes.max, 0.6875, 1e-9);
  EXPECT_EQ(us->max_kb, 240);
  ASSERT_TRUE(us->file_format.has_value());
  EXPECT_EQ(*us->file_format, image::format::jpeg);
  EXPECT_EQ(us->default_background().name, "white");
  auto icao = pipeline::resolve_spec("icao-35x45");
  ASSERT_TRUE(icao.ok());
  EXPECT_NEAR(icao->head.min * 45, 32, 1e-9);
  EXPECT_NEAR(icao->head.max * 45, 36, 1e-9);
  EXPECT_EQ(icao->default_background().name, "light-grey");
  auto china = pipeline::resolve_spec("china-33x48");
  ASSERT_TRUE(china.ok());
  ASSERT_TRUE(china->crown_margin.has_value());
  EXPECT_NEAR(china->crown_margin->min * 48, 3, 1e-9);
  EXPECT_FALSE(china->eyes_from_authority);
}

TEST(id_spec, every_number_has_a_known_source) {
  const auto& cat = pipeline::builtin_catalogue();
  ASSERT_TRUE(cat.ok());
  for (const auto& s : cat->specs) {
    for (const char* field : {"size", "head", "eyes", "background"}) {
      bool found = false;
      for (const auto& src : s.sources) found |= src.field == field;
      EXPECT_TRUE(found) << s.name << " " << field;
    }
    for (const auto& src : s.sources) {
      const auto* doc = cat->find_source(src.source_id);
      ASSERT_NE(doc, nullptr) << s.name << " " << src.source_id;
      EXPECT_FALSE(doc->document.empty());
      EXPECT_FALSE(doc->date.empty());
    }
  }
}

TEST(id_spec, docs_cover_every_spec_and_source) {
  std::ifstream f(std::string(IDPHOTO_SOURCE_DIR) + "/docs/specs.md");
  ASSERT_TRUE(f) << "docs/specs.md is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  const auto& cat = pipeline::builtin_catalogue();
  ASSERT_TRUE(cat.ok());
  for (const auto& s : cat->specs) EXPECT_NE(doc.find("`" + s.name + "`"), std::string::npos) << s.name;
  for (const auto& s : cat->sources) EXPECT_NE(doc.find("`" + s.id + "`"), std::string::npos) << s.id;
}

TEST(id_spec, unknown_name) {
  auto r = pipeline::resolve_spec("passport-of-atlantis");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, base::errc::not_found);
  EXPECT_NE(r.err().detail.find("icao-35x45"), std::string::npos) << "lists the known names";
  EXPECT_FALSE(pipeline::resolve_spec("").ok());
  EXPECT_FALSE(pipeline::resolve_spec(std::string(100000, 'a')).ok());
}

TEST(id_spec, custom_specs) {
  auto a = pipeline::resolve_spec("custom:35x45mm");
  ASSERT_TRUE(a.ok()) << a.err().to_string();
  EXPECT_EQ(a->width_px, 413);
  EXPECT_EQ(a->height_px, 531);
  EXPECT_NEAR(a->head.min, 32.0 / 45, 1e-9);
  EXPECT_EQ(a->default_background().name, "white");
  auto b = pipeline::resolve_spec("custom:2x2in,head=1-1.375,eyes=1.125-1.375,bg=white|#EEEEEE,max-kb=240,format=jpeg");
  ASSERT_TRUE(b.ok()) << b.err().to_string();
  EXPECT_EQ(b->width_px, 600);
  EXPECT_NEAR(b->head.max, 0.6875, 1e-9);
  EXPECT_EQ(b->backgrounds.size(), 2u);
  EXPECT_EQ(b->backgrounds[1].rgb.r, 0xEE);
  EXPECT_EQ(b->max_kb, 240);
  auto c = pipeline::resolve_spec("custom:600x800px,head=70-80%,top=2-4%,dpi=400");
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->width_px, 600);
  EXPECT_NEAR(c->dpi, 400, 1e-9);
  EXPECT_NEAR(c->head.min, 0.7, 1e-9);
  ASSERT_TRUE(c->crown_margin.has_value());
  auto d = pipeline::resolve_spec("custom:35x45mm", 600);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->width_px, 827);
  for (const char* bad : {"custom:",
                          "custom:35x45",
                          "custom:35mm",
                          "custom:-35x45mm",
                          "custom:0x45mm",
                          "custom:35x45mm,head=36-32",
                          "custom:35x45mm,head=32-60",
                          "custom:35x45mm,eyes=50-120%",
                          "custom:35x45mm,bg=pink",
                          "custom:35x45mm,bg=#12345",
                          "custom:35x45mm,dpi=10",
                          "custom:35x45mm,foo=1",
                          "custom:35x45mm,head",
                          "custom:nanxnanmm",
                          "custom:1e9x1e9mm",
                          "custom:35x45mm,max-kb=1.5",
                          "custom:35.5x45.5px",
                          "custom:5x5px",
                          "custom:35x45mm,format=gif",
                          "custom:35x45mm,top=30-40,head=32-36"}) {
    auto r = pipeline::resolve_spec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.err().code, base::errc::invalid_argument) << bad;
    }
  }
}

TEST(id_spec, loader_accepts_the_minimal_spec) {
  auto r = load(spec_text());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->specs.back().width_px, 413);
}

TEST(id_spec, loader_refuses_missing_fields) {
  expect_bad(spec_text("\"name\": \"t\", ", ""), "name: missing");
  expect_bad(spec_text("\"title\": \"T\", ", ""), "title: missing");
  expect_bad(spec_text(R"("head": {"min": 32, "max": 36, "unit": "mm", "source": "idphoto"},)", ""), "head: missing");
  expect_bad(spec_text(R"("dpi": {"value": 300, "source": "idphoto"}, )", ""), "missing pixels or dpi");
  expect_bad(spec_text(R"("unit": "mm", "source": "idphoto"},
    "dpi")",
                       R"("unit": "mm"},
    "dpi")"),
             "size.source: missing");
  expect_bad(spec_text(R"("colours": ["white"])", R"("colours": [])"), "empty");
}

TEST(id_spec, loader_refuses_out_of_range_numbers) {
  expect_bad(spec_text(R"("width": 35)", R"("width": -35)"), "must be > 0");
  expect_bad(spec_text(R"("width": 35)", R"("width": 0)"), "must be > 0");
  expect_bad(spec_text(R"("width": 35)", R"("width": 3500)"), "larger than 300 mm");
  expect_bad(spec_text(R"("min": 32, "max": 36)", R"("min": 36, "max": 32)"), "min is larger than max");
  expect_bad(spec_text(R"("min": 32, "max": 36)", R"("min": 32, "max": 60)"), "outside the photo");
  expect_bad(spec_text(R"("min": 0.5, "max": 0.7)", R"("min": 0.5, "max": 1.0)"), "below the top edge");
  expect_bad(spec_text(R"("min": 0.5, "max": 0.7)", R"("min": -0.5, "max": 0.7)"), "must be > 0");
  expect_bad(spec_text(R"("value": 300)", R"("value": 5)"), "72..1200");
  expect_bad(spec_text(R"("height": 45, "unit": "mm")", R"("height": 45, "unit": "cubits")"), "must be mm or in");
}

TEST(id_spec, loader_refuses_unknown_names_and_types) {
  expect_bad(spec_text(R"("name": "t")", R"("name": "Bad Name")"), "lower-case");
  expect_bad(spec_text(R"("colours": ["white"])", R"("colours": ["chartreuse"])"), "unknown colour");
  expect_bad(spec_text(R"("colours": ["white"])", R"("colours": ["white", "white"])"), "duplicate colour");
  expect_bad(spec_text(R"("title": "T")", R"("title": "T", "titel": "x")"), "unknown key");
  expect_bad(
      spec_text(R"("dpi": {"value": 300, "source": "idphoto"})", R"("dpi": {"value": 300, "source": "my-blog"})"),
      "unknown source");
  expect_bad(spec_text(R"("width": 35)", R"("width": "35")"), "must be a number");
  expect_bad(spec_text(R"("title": "T")", R"("title": 7)"), "must be a string");
  expect_bad(spec_text(R"("title": "T")", "\"title\": \"a\\u0001b\""), "control character");
  expect_bad(spec_text(R"("size": {)", R"("size": [)"), "not valid JSON");
  std::vector<spec_file> dup{{"_common.json", common_json()}, {"a.json", spec_text()}, {"b.json", spec_text()}};
  auto r = pipeline::load_catalogue(dup);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("duplicate spec"), std::string::npos);
  std::vector<spec_file> none{{"t.json", spec_text()}};
  EXPECT_FALSE(pipeline::load_catalogue(none).ok());
}

TEST(id_spec, loader_refuses_hostile_json) {
  expect_bad("", "empty");
  expect_bad("[]", "must be an object");
  expect_bad("null", "must be an object");
  expect_bad(spec_text().substr(0, 100), "not valid JSON");  // truncated
  expect_bad(std::string(1000000, '['), "larger than");      // would overflow a recursive parser
  expect_bad(std::string(60000, '['), "nested deeper");
  expect_bad(std::string("{\"a\":") + std::string(100, '[') + std::string(100, ']') + "}", "nested deeper");
  expect_bad(std::string(70000, ' ') + spec_text(), "larger than");
  expect_bad(spec_text(R"("title": "T")", "\"title\": \"" + std::string(5000, 'x') + "\""), "longer than");
  expect_bad(std::string("{\"name\":\"t\"\0}", 13), "NUL");
  expect_bad(spec_text(R"("width": 35)", R"("width": 1e999)"), "");
  expect_bad(spec_text(R"("colours": ["white"])", "\"colours\": [" + std::string(200, '1').insert(0, "") + "]"), "");
  std::string many = "\"notes\": [";
  for (int i = 0; i < 100; ++i) many += std::string(i ? "," : "") + "\"n\"";
  expect_bad(spec_text(R"("title": "T")", "\"title\": \"T\", " + many + "]"), "more than 64");
}
