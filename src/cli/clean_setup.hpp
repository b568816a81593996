// What `idphoto clean` and `idphoto batch` share: the cleaning options (flags, help text,
// parsing into the pipeline's structs), starting libvips and the cleaner, and libvips'
// warnings kept as the reason of a failed decode.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "base/result.hpp"
#include "cli/args.hpp"
#include "pipeline/clean.hpp"

namespace idphoto::cli {

// The value options parse_clean_options reads (for parse_args).
const std::set<std::string>& clean_value_options();
// Their help lines, two spaces in, ending with a newline.
extern const char* const clean_options_help;

struct clean_setup {
  pipeline::pipeline_config pc;  // models, network size, threads, limits (IDPHOTO_MAX_IMAGE_*)
  pipeline::clean_options co;    // background, size, format, refinement
};

// The options of a; mask_only is set from --mask when allow_mask. invalid_argument with the
// message for the user (a bad value, a bad combination, a bad IDPHOTO_MAX_IMAGE_* key).
base::result<clean_setup> parse_clean_options(const args& a, bool allow_mask);

// --spec NAME [--dpi N] [--max-kb N] into co.spec and co.frame, with --bg, --format and
// --quality as given (called by parse_clean_options when --spec is there). invalid_argument
// with the message for the user (unknown spec, --mask or --max-size with it, bad numbers).
base::result<void> parse_spec_options(const args& a, pipeline::clean_options& co);

// "white #FFFFFF, light-grey #F0F0F0": a spec's allowed backgrounds, for messages.
std::string allowed_colours(const pipeline::id_spec& spec);

// The format the output will have: PNG for a mask, the spec's (or --format) when framing.
image::format output_format(const pipeline::clean_options& co);

// The output file extension of an encode format ("png", "jpg", "webp").
const char* ext_of(image::format f);

// Starts libvips (warnings kept, see take_vips_warnings) and loads the model. The image
// module's or the cleaner's error (not_found: the model file missing).
base::result<std::unique_ptr<pipeline::cleaner>> start_cleaner(const pipeline::pipeline_config& pc);

// The libvips warnings since the last call (libpng's reason for a failed PNG, for example),
// the first few distinct ones joined; "" when none.
std::string take_vips_warnings();

// err with the warnings appended when it is a decode failure (corrupt) they explain.
std::string with_decode_reason(const base::error& err);

}  // namespace idphoto::cli
