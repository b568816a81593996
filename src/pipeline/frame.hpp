// Framing a photo to an ID spec: plan the similarity transform (level the eyes, scale the
// head into its band, put the eye line or crown where the spec wants it, centre the face),
// render exactly the spec's pixels from the full-resolution photo, encode with the dpi and
// a size limit, and the one entry point, frame_photo, that does all of it plus the report.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "face/face.hpp"
#include "image/image.hpp"
#include "pipeline/compliance.hpp"
#include "pipeline/face_geometry.hpp"
#include "pipeline/id_spec.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

// Photo pixels -> output pixels: rotate about the eye midpoint to level the eyes, scale,
// translate. Both coordinate systems have pixel centres at +0.5.
struct frame_transform {
  int out_w = 0, out_h = 0;
  double scale = 1;     // output pixels per photo pixel
  vec2 pivot;           // eye midpoint, photo pixels
  vec2 axis_u, axis_n;  // the face's axes in the photo (unit; u along the eye line, n down the face)
  double centre_u = 0;  // the face's centre along u, relative to the pivot (photo pixels)
  double eye_y = 0;     // where the eye line lands, output pixels from the top
  bool bands_conflict =
      false;  // the head did not fit both its band and the margins: the eye line was moved off its target

  vec2 to_output(vec2 p) const;
  vec2 to_source(vec2 o) const;
};

/* Scale from chin-to-crown, vertical position from the crown margin (when the spec sets
 * one) or the eye line (at their band centres), horizontal from the face centre (midway
 * between the eye midpoint and the mouth, ISO/IEC 19794-5's centre line). When the
 * crown would then sit above 3 % of the height (or the chin within 2 % of the bottom),
 * the frame moves, but never takes the eye line out of its band. */
// Fails with invalid_argument (spec without pixels, a head of zero height).
base::result<frame_transform> plan_frame(const id_spec& spec, const face_points& f, const crown_result& crown);

// A source for rendering: RGB pixels of (part of) the photo, possibly pre-shrunk.
struct frame_source {
  const rgb8_plane* rgb = nullptr;
  vec2 origin;                      // photo pixel where the plane's (0,0) corner is
  double scale_x = 1, scale_y = 1;  // plane pixels per photo pixel (< 1 when pre-shrunk)
  int photo_w = 0, photo_h = 0;     // the whole photo (for the outside test)
};

struct rendered_frame {
  rgb8_plane rgb;                      // composite on the background, out_w x out_h
  alpha_plane alpha;                   // the person mask in the output
  double outside_fraction = 0;         // share of output pixels taken from beyond the photo's edges
  double outside_person_fraction = 0;  // of those, on the person above the chin (a cut head, extended)
};

/* Renders the frame: each output pixel is the mean of n x n bilinear samples of the
 * source (n from the scale, so a large reduction averages instead of aliasing), each
 * composited on `background` with the mask sampled at the same point. Where a sample
 * falls beyond the photo, the photo's edge is continued (clamped), so the mask decides:
 * background there becomes the background colour, and the person (shoulders cut by the
 * bottom edge) is continued; both are counted. */
// Fails with invalid_argument (empty source or mask, bad transform).
base::result<rendered_frame> render_frame(const frame_source& src, const alpha_plane& alpha, double alpha_scale,
                                          const frame_transform& t, image::rgb8 background, double chin_out_y);

// Encoded bytes with the dpi in the file; with max_kb (JPEG only), the highest quality
// that fits, by binary search (never by padding).
struct encoded_frame {
  std::vector<uint8_t> bytes;
  image::format fmt = image::format::png;
  int quality = 0;  // JPEG quality used (0 for PNG)
};
// Fails with invalid_argument (bad quality, max_kb with PNG over the limit), too_large
// (even quality 1 is over max_kb), or the image module's errors.
base::result<encoded_frame> encode_frame(const rgb8_plane& px, double dpi, image::format fmt, int quality, int max_kb);

struct frame_options {
  std::optional<image::rgb8> background;  // nullopt = the spec's default colour
  bool transparent = false;               // asked for no background (fails background_colour)
  std::optional<image::format> format;    // nullopt = the spec's format, else PNG
  int quality = 92;                       // JPEG quality (the start of the search under max_kb)
  int max_kb = -1;                        // -1 = the spec's limit; 0 = none; else KB (1000 bytes)
  float min_face_score = 0.5f;            // detections below do not count for one_face
};

// The face as --json reports it: full-resolution photo pixels after EXIF orientation.
struct face_report {
  float box[4] = {0, 0, 0, 0};  // x0, y0, x1, y1
  vec2 eyes[2];                 // left to right in the image
  vec2 chin, crown;
  double roll_deg = 0, yaw_deg = 0, pitch_deg = 0;
};

// {"box": [...], "eyes": [[x,y],[x,y]], "chin": [x,y], "crown": [x,y], "roll_deg", "yaw_deg", "pitch_deg"};
// camel_case: "rollDeg", "yawDeg", "pitchDeg" (the API's spelling).
std::string face_json(const face_report& f, bool camel_case = false);

struct framed_photo {
  encoded_frame file;
  int width = 0, height = 0;
  double dpi = 0;
  image::rgb8 background;
  face_report face;
  compliance_report compliance;
  frame_transform transform;
  std::vector<std::string> warnings;
};

/* The entry point. photo: the full-resolution photo after EXIF orientation (any band
 * layout the image module reads; alpha is ignored). alpha: the person mask at any scale,
 * alpha_scale = alpha pixels per photo pixel. mesh: FaceMesh of the chosen face, in photo
 * pixels; faces: every detection (for one_face; the box of the one holding the mesh is
 * reported). The photo is cropped to the frame's footprint and, for a large reduction,
 * pre-shrunk with the image module's Lanczos resize before the per-pixel sampling. */
// Fails with invalid_argument (empty inputs, mask scale mismatch, bad mesh), too_large
// (max_kb unreachable), or the image module's errors. A photo that breaks the spec's rules
// is not an error: it is framed as well as it can be and the report says which rules fail.
base::result<framed_photo> frame_photo(const image::image& photo, const alpha_plane& alpha, double alpha_scale,
                                       const face::mesh& mesh, const std::vector<face::detection>& faces,
                                       const id_spec& spec, const frame_options& o = {});

}  // namespace idphoto::pipeline
