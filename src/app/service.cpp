// The server's use cases over the repository, the blob store and the worker pool.
#include "app/service.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

#include "app/dispatcher_local.hpp"
#include "app/service_internal.hpp"
#include "db/records.hpp"
#include "image/image.hpp"
#include "image/probe.hpp"

namespace idphoto::app {

using base::errc;
namespace fs = std::filesystem;

const char* stage_name(stage s) {
  switch (s) {
    case stage::request:
      return "request";
    case stage::queue:
      return "queue";
    case stage::fetch:
      return "fetch";
    case stage::image:
      return "image";
    case stage::clean:
      return "clean";
    case stage::frame:
      return "frame";
    case stage::store:
      return "store";
    case stage::database:
      return "database";
  }
  return "?";
}

const char* content_type_of(image::format f) {
  switch (f) {
    case image::format::jpeg:
      return "image/jpeg";
    case image::format::png:
      return "image/png";
    case image::format::webp:
      return "image/webp";
    case image::format::heif:
      return "image/heic";
    case image::format::avif:
      return "image/heic";  // the store keeps HEIF-family files as .heic
    case image::format::tiff:
      return "image/tiff";
  }
  return "application/octet-stream";
}

std::string photo_error_text(const failure& f) {
  switch (f.err.code) {
    case errc::corrupt:
      return "corrupt: the image data could not be decoded";
    case errc::unsupported:
      return "unsupported: not an image format we read";
    case errc::too_large:
      return "too_large: the image is over the size limits";
    case errc::timeout:
      return "timeout: cleaning took too long; upload again later";
    case errc::invalid_argument:
      return f.where == stage::frame
                 ? "no_face: no face was found, so the photo cannot be framed to the card's photoSpec"
                 : "invalid_argument: the options do not fit this image";
    case errc::unavailable:
      return f.where == stage::store ? "unavailable: the clean photo could not be stored; upload again"
                                     : "unavailable: the server is busy or stopping; upload again";
    default:
      return "internal: cleaning failed on our side";
  }
}

std::string photo_report_of(const pipeline::clean_result& r) {
  if (!r.framed) return "";
  const pipeline::framed_photo& f = *r.framed;
  char dpi[32];
  std::snprintf(dpi, sizeof dpi, "%.2f", f.dpi);
  return "{\"spec\":\"" + r.spec_name + "\",\"dpi\":" + dpi + ",\"face\":" + pipeline::face_json(f.face, true) +
         ",\"compliance\":" + pipeline::compliance_json(f.compliance) + "}";
}

std::string photo_warning_of(const pipeline::clean_result& r) {
  switch (r.warning) {
    case pipeline::clean_warning::mask_empty:
      return "mask_empty";
    case pipeline::clean_warning::mask_full:
      return "mask_full";
    case pipeline::clean_warning::no_person:
      return "no_person";
    case pipeline::clean_warning::none:
      return "";
  }
  return "";
}

base::result<image::image_info> check_photo(std::string_view bytes, const image::image_limits& limits) {
  if (bytes.empty()) return base::make_error(errc::invalid_argument, "empty photo");
  if (static_cast<int64_t>(bytes.size()) > limits.max_bytes)
    return base::make_error(errc::too_large, "photo of " + std::to_string(bytes.size()) + " bytes over the limit of " +
                                                 std::to_string(limits.max_bytes));
  auto info = image::probe(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!info.ok()) return info.err();
  IDPHOTO_TRY(image::check_limits(*info, limits));
  return info;
}

service::~service() = default;

base::result<std::unique_ptr<service>> service::create(const app_config& cfg, engine_factory engines) {
  IDPHOTO_TRY(cfg.validate());
  std::unique_ptr<service> s(new service());
  s->cfg_ = cfg;
  const int cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (s->cfg_.pipeline.n_threads == 0 && s->cfg_.n_workers > 1)
    s->cfg_.pipeline.n_threads = std::max(1, cores / s->cfg_.n_workers);
  IDPHOTO_TRY(image::init_vips(s->cfg_.pipeline.n_threads > 0 ? s->cfg_.pipeline.n_threads : cores));

  std::error_code ec;
  fs::create_directories(cfg.data_dir, ec);
  if (ec) return base::make_error(errc::io, "cannot create IDPHOTO_DATA_DIR " + cfg.data_dir + ": " + ec.message());

  auto repos = db::open_repositories(cfg.effective_database_url());
  if (!repos.ok()) return repos.err();
  s->repo_ = std::move(repos->cards);
  s->jobs_ = std::move(repos->jobs);

  if (cfg.cloudinary) {
    auto st = store::make_cloudinary_store(*cfg.cloudinary);
    if (!st.ok()) return st.err();
    s->store_ = std::move(*st);
  } else {
    s->local_.dir = cfg.effective_store_dir();
    s->local_.public_base_url = cfg.effective_public_url();
    auto st = store::make_local_store(s->local_);
    if (!st.ok()) return st.err();
    s->store_ = std::move(*st);
  }

  auto pool = worker_pool::create(engines ? engines : cleaner_factory(s->cfg_.pipeline), cfg.n_workers, cfg.queue_size);
  if (!pool.ok()) return pool.err();
  s->pool_ = std::move(*pool);

  // As many job workers as engines: each holds one photo in a clean at a time.
  dispatcher_options d;
  d.n_workers = s->cfg_.n_workers;
  d.lease_ms = s->cfg_.job_lease_ms;
  d.heartbeat_ms = std::max(10, s->cfg_.job_lease_ms / 3);
  d.poll_ms = std::min(1000, s->cfg_.job_lease_ms / 2);
  service* self = s.get();
  auto disp = make_local_dispatcher(
      *s->jobs_, [self]() -> base::result<std::unique_ptr<job_runner>> { return self->new_photo_runner(); }, d);
  if (!disp.ok()) return disp.err();
  s->dispatcher_ = std::move(*disp);
  return s;
}

void service::set_clean_observer(std::function<void(double ms, bool ok)> f) { pool_->set_observer(std::move(f)); }

/* Startup housekeeping. Cards a killed process left "processing" become "failed"
 * (their raw photo is stored: the record was written after it). Files nobody references are
 * left by a crash between storing a blob and recording it (or by a failed delete); the store's
 * orphan sweep removes them once a day old, so a request in flight on another instance is
 * never raced (local store only: the others answer unsupported and keep theirs). For a local
 * store, temporary files (its write-then-rename) older than ten minutes are removed too. */
base::result<recovery_report> service::recover() {
  recovery_report rep;
  auto n = jobs_->fail_processing_without_job("interrupted: the server stopped while cleaning; upload again");
  if (!n.ok()) return n.err();
  rep.interrupted = *n;
  if (local_store()) {
    auto swept = store::sweep_temp_files(local_.dir, 600);
    if (!swept.ok()) return swept.err();
    rep.temp_removed = static_cast<int>(*swept);
  }
  auto refs = repo_->referenced_keys();
  if (!refs.ok()) return refs.err();
  auto orphans = store_->sweep_orphans(std::set<std::string>(refs->begin(), refs->end()), 24 * 3600);
  if (orphans.ok()) rep.orphans_removed = static_cast<int>(orphans->removed);
  else if (orphans.err().code != errc::unsupported) return orphans.err();
  return rep;
}

namespace {
// photoSpec on create or patch: "none" or a spec resolve_spec knows (built-in or custom:...).
base::result<void> check_photo_spec(const db::id_card_fields& f) {
  if (!f.photo_spec || *f.photo_spec == "none") return {};
  if (f.photo_spec->size() > db::max_field_bytes)
    return base::make_error(errc::invalid_argument, "photo_spec: too long");
  auto s = pipeline::resolve_spec(*f.photo_spec);
  if (!s.ok()) return base::make_error(errc::invalid_argument, "photo_spec: " + s.err().detail.substr(0, 300));
  return {};
}
}  // namespace

namespace {
// organization on create or patch with a tenant: absent or the tenant itself (forbidden otherwise).
base::result<void> check_organization(const db::id_card_fields& f, const db::org_filter& org) {
  if (!org || !f.organization || *f.organization == *org) return {};
  return base::make_error(errc::forbidden, "organization: the token may only set its own org");
}
}  // namespace

base::result<db::id_card> service::create_card(const db::id_card_fields& f, const db::org_filter& org) {
  IDPHOTO_TRY(check_photo_spec(f));
  IDPHOTO_TRY(check_organization(f, org));
  if (!org) return repo_->create(f);
  db::id_card_fields in_org = f;
  in_org.organization = *org;
  return repo_->create(in_org);
}
base::result<db::id_card> service::get_card(const std::string& id, const db::org_filter& org) {
  return repo_->get(id, org);
}
base::result<db::page> service::list_cards(int limit, const std::string& cursor, const db::org_filter& org) {
  return repo_->list(limit, cursor, org);
}
base::result<db::id_card> service::patch_card(const std::string& id, const db::id_card_fields& f,
                                              const db::org_filter& org) {
  IDPHOTO_TRY(check_photo_spec(f));
  IDPHOTO_TRY(check_organization(f, org));  // a card cannot leave its tenant
  return repo_->update(id, f, org);
}

base::result<void> service::delete_card(const std::string& id, const db::org_filter& org) {
  auto card = repo_->get(id, org);
  if (!card.ok()) return card.err();
  IDPHOTO_TRY(repo_->remove(id, org));
  for (const auto* k : {&card->raw_photo_key, &card->clean_photo_key})
    if (!k->empty()) (void)store_->remove(*k);  // a failure leaves an orphan, swept later
  return {};
}

base::result<std::vector<uint8_t>> service::card_pdf(const std::string& id, card::sheet_kind sheet,
                                                     const db::org_filter& org) {
  auto c = repo_->get(id, org);
  if (!c.ok()) return c.err();
  auto in = card_input_of(*c);
  if (!in.ok()) return in.err();
  if (!*in) return base::make_error(errc::conflict, "no photo");
  return card::render_pdf(**in, card::card_options{sheet});
}

// The card's fields and photo for the card module: its clean photo when photoStatus is clean,
// else its raw photo (the card is then marked "PHOTO NOT CLEANED"); nullopt without any photo.
base::result<std::optional<card::card_input>> service::card_input_of(const db::id_card& c) {
  const bool clean = c.status == db::photo_status::clean && !c.clean_photo_key.empty();
  const std::string& key = clean ? c.clean_photo_key : c.raw_photo_key;
  if (key.empty()) return std::optional<card::card_input>();
  auto bytes = store_->get(key);
  if (!bytes.ok()) return bytes.err();
  card::card_input in;
  in.card_id = c.id;
  in.full_name = c.full_name;
  in.id_number = c.id_number;
  in.organization = c.organization;
  in.role = c.role;
  in.issued_at = c.issued_at;
  in.expires_at = c.expires_at;
  in.photo_bytes = std::move(*bytes);
  in.photo_is_clean = clean;
  in.verify_url = cfg_.card_verify_url;
  return std::optional<card::card_input>(std::move(in));
}

base::result<std::vector<uint8_t>> service::photo_sheet_pdf(const std::string& id, card::paper paper, int copies,
                                                            const std::optional<std::string>& spec,
                                                            const db::org_filter& org) {
  if (copies < 0 || copies > card::max_sheet_copies)
    return base::make_error(errc::invalid_argument, "copies: must be 0..." + std::to_string(card::max_sheet_copies));
  auto c = repo_->get(id, org);
  if (!c.ok()) return c.err();
  if (c->status != db::photo_status::clean || c->clean_photo_key.empty() || c->photo_report.empty() ||
      c->photo_spec == "none")
    return base::make_error(errc::conflict, "no framed photo");
  if (spec && *spec != c->photo_spec) return base::make_error(errc::conflict, "spec differs");
  auto s = pipeline::resolve_spec(c->photo_spec);
  if (!s.ok()) return base::make_error(errc::internal, "the card's photoSpec no longer resolves: " + s.err().detail);
  auto bytes = store_->get(c->clean_photo_key);
  if (!bytes.ok()) return bytes.err();
  card::sheet_options o;
  o.photo_width_mm = s->width_mm;
  o.photo_height_mm = s->height_mm;
  o.min_dpi = s->dpi * 0.99;  // the frame is rounded to whole pixels
  o.page = paper;
  o.copies = copies;
  const std::vector<std::string> photos = {std::move(*bytes)};
  auto pdf = card::render_photo_sheet(photos, o);
  // The stored photo no longer fits the card's spec (photoSpec patched since the upload).
  if (!pdf.ok() && pdf.err().code == errc::invalid_argument) return base::make_error(errc::conflict, "spec differs");
  return pdf;
}

base::result<pipeline::clean_options> service::resolve_options(const photo_options& o) const {
  pipeline::clean_options co;
  std::vector<std::string> errs;
  auto bg = pipeline::parse_background(o.bg.value_or(cfg_.default_bg));
  if (!bg.ok()) errs.push_back("bg: " + bg.err().detail);
  else co.background = *bg;
  co.max_size_px = o.max_size_px.value_or(cfg_.default_max_size_px);
  if (co.max_size_px < 16 || co.max_size_px > cfg_.max_size_limit_px)
    errs.push_back("maxSize: must be in 16.." + std::to_string(cfg_.max_size_limit_px) + ", got " +
                   std::to_string(co.max_size_px));
  const std::string fmt = o.format.value_or(cfg_.default_format);
  if (fmt == "png") co.encode.fmt = image::format::png;
  else if (fmt == "jpg" || fmt == "jpeg") co.encode.fmt = image::format::jpeg;
  else if (fmt == "webp") co.encode.fmt = image::format::webp;
  else errs.push_back("format: must be png, jpg or webp, got '" + fmt.substr(0, 20) + "'");
  const bool framing = o.spec && *o.spec != "none";  // "none": a plain cut-out
  if (bg.ok() && !*bg && co.encode.fmt == image::format::jpeg && !framing)
    errs.push_back("bg=none needs format png or webp (JPEG has no transparency)");
  if (framing) resolve_spec_options(o, co, errs);
  else if (o.dpi || o.max_kb) errs.push_back(std::string(o.dpi ? "dpi" : "maxKb") + ": needs spec");
  if (!errs.empty()) return base::make_error(errc::invalid_argument, join_lines(errs));
  return co;
}

// spec, dpi, maxKb, and what bg, format and maxSize mean with them (as the CLI's --spec).
void service::resolve_spec_options(const photo_options& o, pipeline::clean_options& co,
                                   std::vector<std::string>& errs) const {
  if (o.max_size_px) errs.push_back("maxSize: does not apply with spec (the spec sets the pixels)");
  if (o.dpi && (*o.dpi < 72 || *o.dpi > 1200))
    errs.push_back("dpi: must be in 72..1200, got " + std::to_string(*o.dpi));
  if (o.max_kb && (*o.max_kb < 1 || *o.max_kb > 100000))
    errs.push_back("maxKb: must be in 1..100000, got " + std::to_string(*o.max_kb));
  if (o.spec->size() > 512) {
    errs.push_back("spec: longer than 512 bytes");
    return;
  }
  auto spec =
      pipeline::resolve_spec(*o.spec, o.dpi && *o.dpi >= 72 && *o.dpi <= 1200 ? static_cast<double>(*o.dpi) : 0.0);
  if (!spec.ok()) {
    errs.push_back("spec: " + spec.err().detail.substr(0, 300));
    return;
  }
  const pipeline::spec_output_faults f = pipeline::set_spec_output(o.bg.has_value(), o.format.has_value(), &co);
  if (f.background_none) errs.push_back("bg: a spec needs a colour, not none");
  if (f.webp) errs.push_back("format: a spec writes png or jpg (WebP has no dpi field)");
  if (o.max_kb) co.frame.max_kb = *o.max_kb;
  co.spec = std::move(*spec);
}

/* The retention sweep. Each expired raw photo is forgotten by the card first, with a
 * conditional UPDATE that names the key listed (a new upload between the list and the clear
 * changes the key, so its photo stays), and only then deleted from the store: a crash or a
 * refused delete in between leaves an unreferenced file, never a card naming a missing one.
 * On the local store the startup orphan sweep removes such a file once it is a day old; on
 * Cloudinary it stays until removed by hand (sweep_orphans is local only). A card with a photo
 * request in flight in this process is skipped (that request may record its previous raw photo
 * again when it fails) and taken at the next sweep. Pages of 100, oldest first; a card seen
 * once is not taken twice in one sweep, so a card that cannot be cleared ends the loop. */
base::result<raw_sweep_report> service::sweep_raw_photos(std::chrono::system_clock::time_point now) {
  raw_sweep_report rep;
  if (cfg_.raw_retention_days <= 0) return rep;
  const std::string cutoff = db::timestamp_of(now - std::chrono::hours(24) * cfg_.raw_retention_days);
  constexpr int page_size = 100;
  std::set<std::string> seen;
  for (;;) {
    auto expired = repo_->list_expired_raw(cutoff, page_size);
    if (!expired.ok()) return expired.err();
    bool fresh = false;
    for (const auto& r : *expired) {
      if (!seen.insert(r.card_id).second) continue;
      fresh = true;
      auto active = jobs_->active_for_card(r.card_id);
      if (!active.ok()) return active.err();
      if (*active) {  // its job may put this raw photo back when it fails
        ++rep.busy;
        continue;
      }
      auto cleared = repo_->clear_raw_photo(r.card_id, r.raw_photo_key);
      if (!cleared.ok()) return cleared.err();
      if (!*cleared) continue;  // replaced or deleted meanwhile
      ++rep.removed;
      if (!store_->remove(r.raw_photo_key).ok()) ++rep.blob_errors;
    }
    if (!fresh || expired->size() < static_cast<size_t>(page_size)) break;
  }
  return rep;
}

base::result<image_output> service::remove_background(std::string bytes, const photo_options& o, stage* where) {
  stage dummy;
  stage& w = where ? *where : dummy;
  w = stage::request;
  auto co = resolve_options(o);
  if (!co.ok()) return co.err();
  w = stage::queue;
  auto place = pool_->reserve();
  if (!place.ok()) return place.err();
  w = stage::image;
  auto info = check_photo(bytes, cfg_.pipeline.limits);
  if (!info.ok()) return info.err();
  w = stage::clean;
  auto r =
      pool_->run(std::move(*place), std::make_shared<const std::string>(std::move(bytes)), *co, cfg_.job_timeout_ms);
  if (!r.ok()) {
    if (pipeline::is_no_face(r.err())) w = stage::frame;
    return r.err();
  }
  image_output out;
  out.bytes.assign(reinterpret_cast<const char*>(r->bytes.data()), r->bytes.size());
  out.content_type = content_type_of(r->fmt);
  out.width = r->width;
  out.height = r->height;
  out.warning = photo_warning_of(*r);
  if (r->framed) {
    const pipeline::framed_photo& f = *r->framed;
    out.spec = r->spec_name;
    out.verdict = pipeline::verdict_name(f.compliance.overall);
    for (const auto& rule : f.compliance.rules)
      if (!rule.pass) out.failed_rules += (out.failed_rules.empty() ? "" : ",") + rule.rule;
    out.report_json = photo_report_of(*r);
  }
  return out;
}

readiness service::check_ready() {
  readiness r;
  r.model = pool_ && pool_->stats().n_workers > 0;
  r.database = repo_->ping().ok();
  r.store = store_->ping().ok();
  return r;
}

pool_stats service::stats() const { return pool_->stats(); }
dispatcher_stats service::job_stats() const { return dispatcher_->stats(); }

base::result<std::string> service::local_file(const std::string& key) const {
  if (!local_store()) return base::make_error(errc::not_found, "the store is not local");
  return store::local_file_path(local_, key);
}

}  // namespace idphoto::app
