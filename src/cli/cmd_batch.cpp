// `idphoto batch`: a roster CSV and a folder or ZIP of photos in; one cleaned photo per row
// (named by idNumber) and export.csv out, offline, with the cleaner run directly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "base/catching.hpp"
#include "base/read_file.hpp"
#include "batch/batch_config.hpp"
#include "batch/csv.hpp"
#include "batch/match.hpp"
#include "batch/photo_names.hpp"
#include "batch/photo_source.hpp"
#include "batch/roster.hpp"
#include "cli/args.hpp"
#include "cli/clean_setup.hpp"
#include "cli/progress.hpp"
#include "db/records.hpp"
#include "image/encode.hpp"

namespace idphoto::cli {

namespace fs = std::filesystem;

namespace {

const char* help =
    "usage: idphoto batch ROSTER.csv PHOTOS --out-dir DIR [options]\n"
    "  ROSTER.csv    the people, a UTF-8 CSV with a header row: fullName (required), idNumber,\n"
    "                organization, role, issuedAt, expiresAt (YYYY-MM-DD), photo; ',' or ';'\n"
    "                separated (read from the header), a BOM is fine\n"
    "  PHOTOS        a folder or a .zip of photos named by idNumber (R12.jpg: any case, any of\n"
    "                jpg jpeg png webp heic heif tif tiff), or by the row's photo column\n"
    "  --out-dir DIR write DIR/<idNumber>.<ext> per row (row-<N>.<ext> without an idNumber)\n"
    "                and DIR/export.csv: every row with its photo, output, status and problem\n"
    "  --organization ORG  the organization of rows that name none\n"
    "%s"
    "Limits, from the environment (config/idphoto.example.env): IDPHOTO_MAX_BATCH_ROWS,\n"
    "IDPHOTO_MAX_ROSTER_BYTES, IDPHOTO_MAX_BATCH_BYTES, IDPHOTO_MAX_ZIP_ENTRIES,\n"
    "IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES, IDPHOTO_MAX_ZIP_RATIO, IDPHOTO_MAX_IMAGE_BYTES (a photo).\n"
    "Exit status: 0 when every row got its photo; 1 when a row did not or an input was refused;\n"
    "2 for a usage error.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "idphoto: error: %s\n(see idphoto batch --help)\n", msg.c_str());
  return 2;
}

int input_error(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "idphoto: error: %s: %s\n", what.c_str(), detail.c_str());
  return 1;
}

// What happened to one roster row, for export.csv and the summary.
struct row_result {
  std::string photo;   // the entry used
  std::string output;  // the file written in the out dir
  std::string status;  // done, failed, skipped
  std::vector<std::string> codes, messages;
  void add(const std::string& code, const std::string& message) {
    if (!code.empty()) codes.push_back(code);
    messages.push_back(message);
  }
};

/* Output names: the idNumber with every byte outside [A-Za-z0-9._-] made '_' (so no path
 * separator, no control character, no leading dot reaches the file system), at most 100
 * bytes; "row-N" without an idNumber. Names are compared without case (the out dir may be on
 * a case-insensitive file system) and a repeat gets "-row-N". */
std::string output_stem(const batch::roster_row& row, std::set<std::string>& taken) {
  std::string s = row.fields.id_number.value_or("");
  for (char& c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
          c == '_'))
      c = '_';
  if (!s.empty() && s[0] == '.') s[0] = '_';
  if (s.size() > 100) s.resize(100);
  if (s.empty()) s = "row-" + std::to_string(row.row);
  if (!taken.insert(batch::ascii_lower(s)).second) {
    s += "-row-" + std::to_string(row.row);
    taken.insert(batch::ascii_lower(s));
  }
  return s;
}

bool is_client_fault(base::errc c) {
  return c == base::errc::corrupt || c == base::errc::unsupported || c == base::errc::too_large ||
         c == base::errc::invalid_argument || c == base::errc::not_found;
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

int cmd_batch(const std::vector<std::string>& argv) {
  std::set<std::string> value_opts = clean_value_options();
  value_opts.insert({"--out-dir", "--organization"});
  auto a = parse_args(argv, value_opts, {"--help", "-h"});
  if (!a.ok()) return usage_error(a.err().detail);
  if (a->has("--help") || a->has("-h")) {
    std::printf(help, clean_options_help);
    return 0;
  }
  if (a->positional.size() != 2) return usage_error("want a roster CSV and a photo folder or ZIP");
  if (!a->has("--out-dir") || a->get("--out-dir").empty()) return usage_error("--out-dir is required");
  auto setup = parse_clean_options(*a, false);
  if (!setup.ok()) return usage_error(setup.err().detail);
  auto cfg = batch::batch_config::from_env();
  if (!cfg.ok()) return usage_error(cfg.err().detail);
  const std::string roster_path = a->positional[0], photos_path = a->positional[1];
  const fs::path out_dir = a->get("--out-dir");

  // Everything about the inputs is checked before the model loads or a file is written.
  auto roster_bytes = base::read_file(roster_path, cfg->max_roster_bytes);
  if (!roster_bytes) {
    std::string d = roster_bytes.err().detail;
    if (roster_bytes.err().code == base::errc::too_large) d += " (IDPHOTO_MAX_ROSTER_BYTES)";
    return input_error(roster_path, d);
  }
  batch::roster_options ro;
  ro.default_organization = a->get("--organization");
  if (auto v = db::check_text("--organization", ro.default_organization, db::max_field_bytes); !v)
    return usage_error(v.err().detail);
  auto roster = batch::parse_roster(
      std::string_view(reinterpret_cast<const char*>(roster_bytes->data()), roster_bytes->size()), *cfg, ro);
  if (!roster) return input_error(roster_path, roster.err().detail);
  std::error_code ec;
  const bool is_dir = fs::is_directory(photos_path, ec);
  auto photos = is_dir ? batch::open_photo_dir(photos_path, *cfg) : batch::open_zip(photos_path, *cfg);
  if (!photos) return input_error(photos_path, photos.err().detail);
  const auto& entries = (*photos)->entries();
  const batch::photo_match match = batch::match_photos(*roster, entries);

  for (const auto& c : roster->ignored_columns)
    std::fprintf(stderr, "idphoto: warning: %s: column \"%s\" is not one we know; ignored\n", roster_path.c_str(),
                 c.c_str());
  if (!match.unmatched.empty()) {
    std::string names;
    for (size_t k = 0; k < match.unmatched.size() && k < 5; ++k)
      names += (k ? ", " : "") + db::storable_text(entries[match.unmatched[k]].name, 80);
    if (match.unmatched.size() > 5) names += ", and " + std::to_string(match.unmatched.size() - 5) + " more";
    std::fprintf(stderr, "idphoto: warning: %zu file(s) match no row: %s\n", match.unmatched.size(), names.c_str());
  }

  fs::create_directories(out_dir, ec);
  if (ec) return input_error(out_dir.string(), "cannot create: " + ec.message());
  image::write_options wo;
  wo.protected_paths.push_back(roster_path);
  if (is_dir)
    for (const auto& e : entries) wo.protected_paths.push_back(fs::path(photos_path) / e.name);
  else wo.protected_paths.push_back(photos_path);

  // Each row's result, filled from the roster and matching, then by cleaning.
  std::vector<row_result> results(roster->rows.size());
  size_t n_photos = 0;
  // rows[k].row is k + 1: every data row is in rows, valid or not.
  std::vector<db::batch_problem> all_problems = roster->problems;
  all_problems.insert(all_problems.end(), match.problems.begin(), match.problems.end());
  for (const auto& p : all_problems)
    if (p.row >= 1 && static_cast<size_t>(p.row) <= results.size()) results[p.row - 1].add(p.code, p.message);
  for (size_t k = 0; k < roster->rows.size(); ++k) {
    results[k].status = "skipped";
    if (match.entry_of_row[k]) {
      results[k].photo = entries[*match.entry_of_row[k]].name;
      ++n_photos;
    }
  }

  std::unique_ptr<pipeline::cleaner> cleaner;
  if (n_photos > 0) {
    auto cl = start_cleaner(setup->pc);
    if (!cl.ok()) return input_error("model", cl.err().detail);
    cleaner = std::move(*cl);
  }
  const std::string ext = ext_of(output_format(setup->co));
  std::set<std::string> taken;
  progress bar(n_photos, true);
  size_t done_photos = 0;
  double total_s = 0;
  const auto t_start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < roster->rows.size(); ++k) {
    if (!match.entry_of_row[k]) continue;
    const auto& row = roster->rows[k];
    row_result& res = results[k];
    bar.show(done_photos, res.photo, done_photos ? total_s / static_cast<double>(done_photos) : 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    res.status = "failed";
    take_vips_warnings();
    auto bytes = (*photos)->read(*match.entry_of_row[k], setup->pc.limits.max_bytes);
    if (!bytes) {
      res.add("unreadable_photo", bytes.err().detail);
    } else {
      auto r = base::catching("clean",
                              [&] { return cleaner->clean(*bytes, setup->co); });  // one photo's throw fails its row
      if (!r) {
        const std::string why = with_decode_reason(r.err());
        const bool no_face = pipeline::is_no_face(r.err());  // framing to a spec needs a face
        res.add(no_face                         ? "no_face"
                : is_client_fault(r.err().code) ? "unreadable_photo"
                                                : "",
                is_client_fault(r.err().code) ? why : "internal error: " + why);
      } else {
        const std::string name = output_stem(row, taken) + "." + ext;
        auto w = image::write_file_atomic(out_dir / name, r->bytes, wo);
        if (!w) {
          res.add("", "cannot write " + name + ": " + w.err().detail);
        } else {
          res.status = "done";
          res.output = name;
          std::vector<std::string> doubts = r->warnings;  // "no face found: …" among them
          if (!r->person && doubts.empty()) doubts.push_back("no face found");
          if (!doubts.empty()) res.add("compliance_fail", joined(doubts, ", "));
          if (r->framed && r->framed->compliance.overall != pipeline::verdict::pass) {  // framed: the rules it breaks
            std::vector<std::string> broken;
            for (const auto& rule : r->framed->compliance.rules)
              if (!rule.pass) broken.push_back(rule.rule);
            const bool fail = r->framed->compliance.overall == pipeline::verdict::fail;
            res.add(fail ? "compliance_fail" : "compliance_warn",
                    std::string(fail ? "fails " : "warns on ") + joined(broken, ", "));
          }
        }
      }
    }
    total_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++done_photos;
    if (res.status != "done") {
      bar.clear();
      std::fprintf(stderr, "idphoto: error: row %d (%s): %s\n", row.row, db::storable_text(res.photo, 80).c_str(),
                   res.messages.empty() ? "failed" : res.messages.back().c_str());
    }
  }
  bar.clear();

  std::string csv = batch::csv_line({"row", "fullName", "idNumber", "organization", "role", "issuedAt", "expiresAt",
                                     "photo", "output", "status", "problem", "message"});
  size_t n_done = 0, n_failed = 0, n_skipped = 0, n_doubtful = 0;
  for (size_t k = 0; k < roster->rows.size(); ++k) {
    const auto& f = roster->rows[k].fields;
    const row_result& res = results[k];
    n_done += res.status == "done";
    n_failed += res.status == "failed";
    n_skipped += res.status == "skipped";
    n_doubtful += std::count(res.codes.begin(), res.codes.end(), "compliance_fail") > 0;
    const auto cell = [](const std::optional<std::string>& v) { return db::storable_text(v.value_or(""), 400); };
    csv += batch::csv_line({std::to_string(roster->rows[k].row), cell(f.full_name), cell(f.id_number),
                            cell(f.organization), cell(f.role), cell(f.issued_at), cell(f.expires_at),
                            db::storable_text(res.photo, 400), res.output, res.status, joined(res.codes, " "),
                            db::storable_text(joined(res.messages, " / "), 2000)});
  }
  const auto export_path = out_dir / "export.csv";
  if (auto w = image::write_file_atomic(
          export_path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(csv.data()), csv.size()), wo);
      !w)
    return input_error(export_path.string(), w.err().detail);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::fprintf(stderr,
               "idphoto: batch: %zu of %zu rows done in %.1f s (%zu failed, %zu skipped: invalid or no photo; "
               "%zu doubtful); %s\n",
               n_done, roster->rows.size(), secs, n_failed, n_skipped, n_doubtful, export_path.c_str());
  return n_done == roster->rows.size() ? 0 : 1;
}

}  // namespace idphoto::cli
