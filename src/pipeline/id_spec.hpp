// ID-photo specifications as data: size, pixels, dpi, chin-to-crown and eye-line bands,
// allowed backgrounds, file limits and the source of every number (config/specs/*.json).
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::pipeline {

// A closed interval as fractions of the output height (0..1).
struct band {
  double min = 0, max = 0;
  double centre() const { return (min + max) / 2; }
  bool contains(double v) const { return v >= min && v <= max; }
};

struct named_colour {
  std::string name;  // "white", "light-grey", ...
  image::rgb8 rgb;
};

// Where one number of a spec comes from: an id of the catalogue's source table.
struct spec_source {
  std::string field;      // "size", "pixels", "dpi", "head", "eyes", "crown_margin", "background", "file"
  std::string source_id;  // e.g. "icao-9303-p3"; "idphoto" = our own choice
};

struct source_doc {
  std::string id, document, section, date, url, note;
};

struct id_spec {
  std::string name, title;
  double width_mm = 0, height_mm = 0;  // printed size
  int width_px = 0, height_px = 0;     // exact output pixels
  double dpi = 300;                    // pixels per inch written into the file (width_px / width in inches)
  bool pixels_from_authority = false;  // the authority fixed width_px x height_px itself (India)
  band head;                           // chin to crown
  band eyes;                           // eye line, measured up from the bottom edge
  bool eyes_from_authority = true;     // false: the authority sets none and ISO/IEC 19794-5's band is used (soft rule)
  std::optional<band> crown_margin;    // top edge to crown, when the authority sets it (it then anchors the frame)
  std::vector<named_colour> backgrounds;     // allowed colours; the first is the default
  std::optional<image::format> file_format;  // what the authority asks for, if anything
  int max_kb = 0, min_kb = 0;                // file size limits (1 KB = 1000 bytes); 0 = none
  std::vector<spec_source> sources;
  std::vector<std::string> notes;

  // The background used when the caller names none.
  const named_colour& default_background() const { return backgrounds.front(); }
  // The allowed colour within max_distance (RGB Euclidean) of c, if any.
  const named_colour* allowed_colour(image::rgb8 c, double max_distance = 0.5) const;
};

// The catalogue: every spec, the documents they cite, the named colours.
struct spec_catalogue {
  std::vector<id_spec> specs;
  std::vector<source_doc> sources;
  std::vector<named_colour> colours;

  const id_spec* find(std::string_view name) const;
  const source_doc* find_source(std::string_view id) const;
};

// One JSON file of config/specs/: "_common.json" holds sources and colours, every other
// file one spec.
struct spec_file {
  std::string name;  // file name, for error messages
  std::string text;
};

/* Parses and validates the files. Hostile input is refused before it reaches the JSON
 * parser: at most 64 KiB per file, nesting at most 8 deep. Every spec must have a name
 * (lower-case letters, digits, '-'), a title, a positive size (mm or in; "pixels" optional),
 * head and eye bands inside the height with min <= max, at least one background colour
 * from the colour table, and a known source id for every number; unknown keys are errors. */
// Returns invalid_argument naming the file and the field.
base::result<spec_catalogue> load_catalogue(std::span<const spec_file> files);

// The files of config/specs/ as embedded at build time (generated id_spec_files.cpp). Never fails.
std::vector<spec_file> builtin_spec_files();

// The catalogue built into the binary (config/specs/*.json, embedded at build time),
// parsed once. Fails only if the embedded files are broken (a build defect; a test checks them).
const base::result<spec_catalogue>& builtin_catalogue();

// The spec as the output needs it at `dpi` (0 = the spec's own): pixels recomputed from the
// millimetres, rounded to the nearest pixel (icao-35x45 at 300 dpi = 413 x 531).
// Returns invalid_argument for dpi outside 72..1200.
base::result<id_spec> at_dpi(const id_spec& spec, double dpi);

/* A spec by name from the built-in catalogue, or a custom one:
 *   custom:WxH(mm|in|px)[,head=A-B][,eyes=A-B][,top=A-B][,bg=NAME|#RRGGBB[|...]][,dpi=N][,max-kb=N][,format=jpeg|png]
 * with bands in the size's unit (or "%" suffix for percent of the height), e.g.
 * "custom:35x45mm,head=32-36,eyes=22.5-31.5,bg=white". Missing bands take ICAO's fractions
 * (head 32/45-36/45, eyes 50-70 %); a px size gets dpi 300 unless dpi= says otherwise. */
// Returns not_found (unknown name, listing the known ones), invalid_argument (bad custom spec).
base::result<id_spec> resolve_spec(std::string_view name_or_custom, double dpi = 0);

// "a, b, c": the names of the built-in specs.
std::string spec_names();

}  // namespace idphoto::pipeline
