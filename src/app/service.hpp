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
#include "app/worker_pool.hpp"
#include "base/result.hpp"
#include "card/card.hpp"
#include "card/sheet.hpp"
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
struct photo_outcome {
  std::optional<db::id_card> card;
  std::optional<failure> error;
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

  // Startup housekeeping: fail_interrupted, then (local store) sweep temp files and old orphans.
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
  // requested_spec: the spec the request named (recorded as the card's photoSpec), if any.
  photo_outcome clean_and_record(const db::id_card& before, ticket place, std::string bytes,
                                 const pipeline::clean_options& co, const std::optional<std::string>& requested_spec);
  // The photo use cases from the card lookup on: resolve the options with the card's
  // photoSpec, claim the card, reserve a place, get the bytes. The lookup is within org.
  photo_outcome photo_request(const std::string& card_id, const photo_options& o, const db::org_filter& org,
                              const std::function<base::result<std::string>()>& get_bytes);

  // Cards with a photo request in flight in this process. A second photo request for the
  // same card is refused (conflict) instead of racing: the first one's final record could
  // otherwise name a raw file the second one removed as "previous".
  class card_claim;
  std::mutex claims_mu_;
  std::set<std::string> claimed_cards_;

  app_config cfg_;
  std::unique_ptr<db::repository> repo_;
  std::unique_ptr<store::blob_store> store_;
  std::unique_ptr<worker_pool> pool_;
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
