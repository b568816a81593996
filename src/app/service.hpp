// The use cases of the server: ID-card CRUD, upload → clean → store → record, fetch and
// clean, stateless background removal, readiness. No HTTP, no JSON: the server maps these
// results to responses through its one error table.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "app/config.hpp"
#include "app/dispatcher.hpp"
#include "app/worker_pool.hpp"
#include "base/result.hpp"
#include "card/card.hpp"
#include "card/sheet.hpp"
#include "db/job_repository.hpp"
#include "db/repository.hpp"
#include "store/blob_store.hpp"

namespace idphoto::app {

// Where a failure happened; the server's error table uses it with the code (a timeout while
// fetching the client's URL is not the same answer as a timeout of our own clean).
// frame: framing to a spec found no face (the photo is fine; it is not a portrait).
enum class stage { request, queue, fetch, image, clean, frame, store, database };
const char* stage_name(stage s);

struct failure {
  base::error err;
  stage where = stage::request;
};

// Per-request options; nullopt = the configured default.
struct photo_options {
  std::optional<std::string> bg;      // as the CLI's --bg: blue, white, grey, red, #RRGGBB, none
  std::optional<int> max_size_px;     // 16..max_size_limit_px
  std::optional<std::string> format;  // png, jpg, webp
  // Framing to an ID-photo spec (pipeline/id_spec.hpp: a built-in name or custom:...). On the
  // card routes it overrides the card's photoSpec and becomes it; "none" = a plain cut-out.
  std::optional<std::string> spec;
  std::optional<int> dpi;     // with spec: 72..1200 (default: the spec's)
  std::optional<int> max_kb;  // with spec: the file must fit this many KB (JPEG quality is chosen)
};

// A photo use case's answer: the card as it is now (when there is one) and, when the photo
// was not cleaned, why. card set + error set = the raw photo is kept and the card says failed.
// With a job: the photo's job as it is now and whether this request made it (false: an earlier
// one with the same idempotency key did). A synchronous request's job has ended, unless it took
// longer than the wait (job_timeout_ms): then it is still queued or running, as after an async
// request (the route answers 202 with it).
struct photo_outcome {
  std::optional<db::id_card> card;
  std::optional<failure> error;
  std::optional<db::job> job;
  bool job_created = true;
};

struct image_output {
  std::string bytes;
  std::string content_type;  // image/png, image/jpeg, image/webp
  int width = 0, height = 0;
  std::string warning;       // "", "no_person", "mask_empty", "mask_full"
  std::string spec;          // with a spec: its name, the verdict ("pass", "warn", "fail"), the
  std::string verdict;       // rules that did not pass (comma-separated) and the report as one
  std::string failed_rules;  // JSON line {"spec","dpi","face","compliance"} (camelCase keys)
  std::string report_json;
};

// How a photo request wants its job (every photo of a card is a job: docs/architecture.md, "Jobs").
struct job_request {
  bool async = false;           // answer at once with the job (202) instead of waiting for it
  std::string subject;          // the token's subject: scopes the idempotency key
  std::string endpoint;         // the route's name: scopes the idempotency key
  std::string idempotency_key;  // "" = none; 1..200 visible ASCII characters
  std::string callback_url;     // "" = none; POSTed the job's result when it ends (the SSRF policy)
};

// A batch upload (POST /api/batches, issue #12): the roster's text and the photos, either a ZIP
// spooled to a file (read entry by entry, removed by the caller afterwards) or named parts.
struct named_photo {
  std::string name;  // the part's file name
  std::string bytes;
};
struct batch_upload {
  std::string roster_csv;
  std::string zip_path;             // "" = no ZIP
  std::vector<named_photo> photos;  // the photo parts (with or instead of the ZIP)
  std::string organization;         // for rows that name none (a tenant token forces its own)
  photo_options options;            // for every photo of the batch
  job_request job;                  // subject, endpoint, idempotency key, callback URL (async is implied)
};

// A batch as GET /api/batches/{id} shows it.
struct batch_view {
  db::batch b;
  db::job_counts counts;
  std::vector<db::batch_problem> problems;
  db::job_page jobs;  // the batch's jobs in roster order, one page
};

struct readiness {
  bool model = false, database = false, store = false;
  bool ready() const { return model && database && store; }
};

// What the startup housekeeping did.
struct recovery_report {
  int interrupted = 0;      // cards that were left "processing" and are now "failed"
  int temp_removed = 0;     // temporary files of the local store removed
  int orphans_removed = 0;  // local store files referenced by no card, older than a day
};

// What one raw-photo retention sweep did (IDPHOTO_RAW_RETENTION_DAYS).
struct raw_sweep_report {
  int removed = 0;      // raw photos no card references any more (their blobs removed or being retried)
  int busy = 0;         // skipped: a photo request for the card was in flight here (next sweep)
  int blob_errors = 0;  // of removed: the store refused the delete (an orphan; see docs/privacy.md)
};

class service {
 public:
  /* Opens the repository (applying migrations), the blob store (local directory or
   * Cloudinary) and the worker pool (engines from `engines`, default: one cleaner each).
   * Fails with the first backend's error: invalid_argument (config), unavailable (database),
   * io (store directory), not_found/corrupt (model). */
  static base::result<std::unique_ptr<service>> create(const app_config& cfg, engine_factory engines = nullptr);
  ~service();

  // Startup housekeeping: cards left processing without a job become failed, then (local store)
  // temp files and old orphans are swept.
  base::result<recovery_report> recover();

  /* IDPHOTO_RAW_RETENTION_DAYS: forgets and deletes every raw photo stored more than that many
   * days before `now` on a card that has a clean photo (the card, its clean photo and its PDF
   * keep working; rawPhotoUrl becomes null). Nothing happens with 0. The repository's error when
   * the database fails (what was done until then stays done). */
  base::result<raw_sweep_report> sweep_raw_photos(
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

  /* CRUD: the repository's errors (invalid_argument, not_found, unavailable). org (a token's
   * tenant; nullopt = every card) limits every use case below that takes it to the cards of that
   * organization: another organization's card is not_found. create_card with org gives the card
   * that organization; create_card and patch_card refuse (forbidden) fields naming another one. */
  base::result<db::id_card> create_card(const db::id_card_fields& f, const db::org_filter& org = std::nullopt);
  base::result<db::id_card> get_card(const std::string& id, const db::org_filter& org = std::nullopt);
  base::result<db::page> list_cards(int limit, const std::string& cursor, const db::org_filter& org = std::nullopt);
  base::result<db::id_card> patch_card(const std::string& id, const db::id_card_fields& f,
                                       const db::org_filter& org = std::nullopt);
  // Removes the record, then its blobs (a blob left behind is an orphan, never a dangling record).
  base::result<void> delete_card(const std::string& id, const db::org_filter& org = std::nullopt);

  /* Upload: conflict when another photo request for this card is in flight here; reserve a worker place (queue full → unavailable, nothing stored), check the
   * image header (unsupported/corrupt/too_large → nothing stored, card unchanged), store the
   * raw photo durably, record it (photoStatus processing), clean, store the clean photo,
   * record it (clean, photoWarning when doubtful). When cleaning fails the card keeps the raw
   * photo with photoStatus failed and photoError, and the outcome carries the error. */
  photo_outcome upload_photo(const std::string& card_id, std::string bytes, const photo_options& o,
                             const db::org_filter& org = std::nullopt);
  // As upload_photo, the photo fetched from url first (after the place is reserved); a
  // refused or failed fetch leaves the card unchanged. A card outside org is not_found before
  // anything is fetched.
  photo_outcome fetch_and_clean(const std::string& card_id, const std::string& url, const photo_options& o,
                                const db::org_filter& org = std::nullopt);

  /* The same use cases as jobs, the form the routes use (upload_photo and fetch_and_clean are
   * these, synchronous). The photo is checked (header), stored as raw, and a job of kind
   * clean_photo committed with the card set to processing (one transaction: docs/architecture.md,
   * "Photo jobs"); a card with a photo job in flight is conflict, a reused idempotency key with
   * another request conflict (db::is_idempotency_mismatch: 422). Synchronous requests are
   * admitted as before (queue full: unavailable, nothing stored) and wait for the job; async ones
   * are not admitted (the database is the queue) and return at once. */
  photo_outcome submit_photo(const std::string& card_id, std::string bytes, const photo_options& o,
                             const job_request& jr, const db::org_filter& org = std::nullopt);
  photo_outcome submit_fetch(const std::string& card_id, const std::string& url, const photo_options& o,
                             const job_request& jr, const db::org_filter& org = std::nullopt);
  // A job, when its card (or batch) is within org; not_found otherwise.
  base::result<db::job> get_job(const std::string& id, const db::org_filter& org = std::nullopt);

  /* Batches (src/app/service_batches.cpp). create_batch reads the roster, matches the photos,
   * stores each matched photo as raw and commits the batch (db::job_repository::create_batch)
   * with a batch-priority job per photo; roster errors are invalid_argument / too_large naming
   * the file, the row or the entry, and nothing is stored. get_batch / batch_cards_pdf /
   * batch_export_csv: not_found outside org. */
  base::result<db::batch_created> create_batch(const batch_upload& u, const db::org_filter& org, failure* why);
  base::result<batch_view> get_batch(const std::string& id, int limit, const std::string& cursor,
                                     const db::org_filter& org = std::nullopt);
  base::result<std::vector<uint8_t>> batch_cards_pdf(const std::string& id, const db::org_filter& org = std::nullopt);
  base::result<std::string> batch_export_csv(const std::string& id, const db::org_filter& org = std::nullopt);

  /* The card as a PDF (CR80 page, or an A4 sheet with crop marks): its clean photo when
   * photoStatus is clean, else its raw photo with the card marked "PHOTO NOT CLEANED". Rendered
   * on the calling thread (no worker place: no model; the photo is <= the stored output size). */
  // not_found (no card), conflict with detail "no photo" (nothing uploaded yet), the store's
  // errors reading the photo, the card module's errors (invalid_argument, corrupt, internal).
  base::result<std::vector<uint8_t>> card_pdf(const std::string& id, card::sheet_kind sheet,
                                              const db::org_filter& org = std::nullopt);

  /* Copies of the card's framed photo at its spec's printed size on paper (card/sheet.hpp),
   * rendered on the calling thread. spec: must be the card's photoSpec when given (the photo
   * is framed to that one). conflict with detail "no framed photo" (no clean photo, or one
   * framed to no spec: photoSpec none) or "spec differs" (re-upload with spec=NAME first);
   * not_found; invalid_argument (copies 0..500, a photo that no longer fits its spec, e.g.
   * photoSpec patched after the upload); the store's errors. */
  base::result<std::vector<uint8_t>> photo_sheet_pdf(const std::string& id, card::paper paper, int copies,
                                                     const std::optional<std::string>& spec,
                                                     const db::org_filter& org = std::nullopt);

  // Stateless: the cleaned image of bytes; nothing stored.
  base::result<image_output> remove_background(std::string bytes, const photo_options& o, stage* where = nullptr);

  readiness check_ready();
  pool_stats stats() const;
  dispatcher_stats job_stats() const;  // this instance's photo-job counters
  const app_config& config() const { return cfg_; }
  bool local_store() const { return !cfg_.cloudinary; }
  // The file of a local store key (the /files/ route): invalid_argument, not_found; not_found
  // when the store is not local.
  base::result<std::string> local_file(const std::string& key) const;
  void set_clean_observer(std::function<void(double ms, bool ok)> f);

  // Resolved options (defaults applied, checked): invalid_argument naming the bad field.
  base::result<pipeline::clean_options> resolve_options(const photo_options& o) const;

 private:
  void resolve_spec_options(const photo_options& o, pipeline::clean_options& co, std::vector<std::string>& errs) const;

  service() = default;

  /* The first half of every photo job (upload, fetch, batch row): the photo's header checked
   * against the limits, the photo stored as raw, and what the job needs: the card's photo columns
   * while it waits (raw photo, photoStatus processing; the previous clean photo kept when
   * `before` has one) and the job's payload (job_payload.hpp). o must already carry the spec to
   * frame to (the card's photoSpec when the request named none). Nothing is stored on error;
   * *why says where it failed (image, store). */
  struct staged_photo {
    db::photo_update card;  // for new_job::card_on_create / batch_row::photo::card
    std::string payload;
    std::string raw_key;  // to remove when the job is not made after all
    bool keeps_previous = false;
  };
  base::result<staged_photo> stage_photo(std::string_view bytes, const photo_options& o,
                                         const std::optional<db::id_card>& before, const std::string& callback_url,
                                         failure* why);
  // Tells the dispatcher about committed jobs (a failure only delays them: workers poll).
  void submit_jobs(const std::vector<std::string>& job_ids, db::job_priority p);
  // The photo use cases from the card lookup on (within org): resolve the options with the
  // card's photoSpec, admit (synchronous), get the bytes, stage, enqueue, wait (synchronous).
  photo_outcome photo_job(const std::string& card_id, const photo_options& o, const job_request& jr,
                          const db::org_filter& org, const std::string& fingerprint_seed,
                          const std::function<base::result<std::string>()>& get_bytes);
  base::result<std::optional<card::card_input>> card_input_of(const db::id_card& c);
  class photo_runner;  // the clean_photo job (service_jobs.cpp)
  std::unique_ptr<job_runner> new_photo_runner();

  app_config cfg_;
  std::unique_ptr<db::repository> repo_;
  std::unique_ptr<store::blob_store> store_;
  std::unique_ptr<worker_pool> pool_;
  std::unique_ptr<db::job_repository> jobs_;
  std::unique_ptr<dispatcher> dispatcher_;  // after pool_ and jobs_: stopped first
  store::local_config local_;
};

// The public text stored in photoError for a failed clean (never the log detail).
std::string photo_error_text(const failure& f);
// The framing report stored on the card (and sent by remove-background): one JSON line
// {"spec","dpi","face":{... rollDeg ...},"compliance":{...}}; "" when the photo was not framed.
std::string photo_report_of(const pipeline::clean_result& r);
// "no_person", "mask_empty", "mask_full" or "" for a clean result.
std::string photo_warning_of(const pipeline::clean_result& r);
// The content type a blob store takes for an image format.
const char* content_type_of(image::format f);

}  // namespace idphoto::app
