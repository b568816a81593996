// The batch use cases (issue #12): a roster and its photos in, one transaction of cards and a
// batch-priority job per photo out; a batch's progress, its cards as A4 sheets, its export CSV.
#include <algorithm>
#include <map>
#include <utility>

#include "app/service.hpp"
#include "app/service_internal.hpp"
#include "batch/csv.hpp"
#include "batch/match.hpp"
#include "batch/photo_names.hpp"
#include "batch/photo_source.hpp"
#include "batch/roster.hpp"
#include "db/records.hpp"
#include "store/sigv4.hpp"

namespace idphoto::app {

using base::errc;

namespace {

/* The photos of one upload as one source: the ZIP's entries (read from its spooled file on
 * demand) and the named parts (already in memory: a part is bounded by the image limit and the
 * parts by the multipart part count), sorted together by name so that matching sees one list,
 * exactly as it would for a ZIP holding them all. */
class upload_source final : public batch::photo_source {
 public:
  upload_source(std::unique_ptr<batch::photo_source> zip, const std::vector<named_photo>& parts)
      : zip_(std::move(zip)), parts_(parts) {
    if (zip_)
      for (size_t i = 0; i < zip_->entries().size(); ++i) where_.push_back({zip_->entries()[i], true, i});
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (batch::is_left_out(parts_[i].name)) continue;  // as a ZIP's hidden files and folders
      where_.push_back({{parts_[i].name, static_cast<int64_t>(parts_[i].bytes.size())}, false, i});
    }
    std::stable_sort(where_.begin(), where_.end(), [](const slot& a, const slot& b) { return a.e.name < b.e.name; });
    for (const auto& s : where_) entries_.push_back(s.e);
  }
  const std::vector<batch::photo_entry>& entries() const override { return entries_; }
  base::result<std::vector<uint8_t>> read(size_t i, int64_t max_bytes) override {
    if (i >= where_.size()) return base::make_error(errc::invalid_argument, "no such photo");
    const slot& s = where_[i];
    if (s.in_zip) return zip_->read(s.index, max_bytes);
    const std::string& b = parts_[s.index].bytes;
    if (static_cast<int64_t>(b.size()) > max_bytes)
      return base::make_error(errc::too_large, "over " + std::to_string(max_bytes) + " bytes");
    return std::vector<uint8_t>(b.begin(), b.end());
  }

 private:
  struct slot {
    batch::photo_entry e;
    bool in_zip = false;
    size_t index = 0;
  };
  std::unique_ptr<batch::photo_source> zip_;
  const std::vector<named_photo>& parts_;
  std::vector<slot> where_;
  std::vector<batch::photo_entry> entries_;
};

// The public text of a photo that could not be read from the upload.
std::string unreadable_text(const std::string& name, const base::error& e) {
  const std::string n = db::storable_text(name, 120);
  switch (e.code) {
    case errc::too_large:
      return "photo " + n + " is over the size limit";
    case errc::unsupported:
      return "photo " + n + " is not an image format we read (JPEG, PNG, WebP, HEIC, TIFF)";
    case errc::corrupt:
      return "photo " + n + " is corrupt or truncated";
    default:
      return "photo " + n + " could not be read";
  }
}

// Every page of a batch's jobs, at most max_jobs of them (roster order).
base::result<std::vector<db::job>> all_jobs(db::job_repository& jobs, const std::string& id, int64_t max_jobs) {
  std::vector<db::job> out;
  std::string cursor;
  do {
    auto p = jobs.list_by_batch(id, 1000, cursor);
    if (!p) return p.err();
    for (auto& j : p->items) {
      if (static_cast<int64_t>(out.size()) >= max_jobs) return out;
      out.push_back(std::move(j));
    }
    cursor = p->next_cursor;
  } while (!cursor.empty());
  return out;
}

std::string options_text(const photo_options& o) {
  const auto s = [](const std::optional<std::string>& v) { return v ? "=" + *v : std::string("-"); };
  const auto i = [](const std::optional<int>& v) { return v ? "=" + std::to_string(*v) : std::string("-"); };
  return "bg" + s(o.bg) + " max" + i(o.max_size_px) + " fmt" + s(o.format) + " spec" + s(o.spec) + " dpi" + i(o.dpi) +
         " kb" + i(o.max_kb);
}

}  // namespace

/* The order matters for "nothing a refused batch sent stays stored": the roster and the
 * archive are checked whole first (nothing stored yet); then each matched photo is read and
 * staged (raw blob written) one at a time, so at most one photo is in memory; the batch is
 * committed in one transaction; a failed commit or an idempotent replay removes every raw blob
 * staged here. The fingerprint (for Idempotency-Key) covers the roster, the organization, the
 * options and every photo used, so the same key with any other request is a mismatch (422). */
base::result<db::batch_created> service::create_batch(const batch_upload& u, const db::org_filter& org, failure* why) {
  failure local;
  failure& f = why ? *why : local;
  f.where = stage::request;
  if (!org && !u.organization.empty())
    if (auto v = db::check_text("organization", u.organization, db::max_field_bytes); !v) return v.err();
  batch::roster_options ro;
  ro.default_organization = org ? *org : u.organization;
  auto roster = batch::parse_roster(u.roster_csv, cfg_.batch, ro);
  if (!roster) return roster.err();  // its detail names the roster, the line or the row
  if (org)                           // a tenant's batch is its own organization's, whatever a row says
    for (auto& row : roster->rows) row.fields.organization = *org;

  std::unique_ptr<batch::photo_source> zip;
  if (!u.zip_path.empty()) {
    auto z = batch::open_zip(u.zip_path, cfg_.batch);
    if (!z) return base::make_error(z.err().code, "photos: " + z.err().detail);
    zip = std::move(*z);
  }
  upload_source photos(std::move(zip), u.photos);
  const auto& entries = photos.entries();
  const batch::photo_match match = batch::match_photos(*roster, entries);

  photo_options o = u.options;
  if (!o.spec) o.spec = "card";
  if (auto co = resolve_options(o); !co) return co.err();
  if (auto cb = check_callback_url(u.job.callback_url, cfg_); !cb) return cb.err();

  db::new_batch nb;
  nb.subject = u.job.subject;
  nb.organization = org ? *org : u.organization;
  nb.idempotency_key = u.job.idempotency_key;
  nb.max_attempts = cfg_.job_max_attempts;
  nb.problems = roster->problems;
  nb.problems.insert(nb.problems.end(), match.problems.begin(), match.problems.end());
  std::string print = store::detail::sha256_hex(u.roster_csv) + "|" + nb.organization + "|" + options_text(o) + "|" +
                      u.job.callback_url;
  std::vector<std::string> staged_keys;
  const auto remove_staged = [&] {
    for (const auto& k : staged_keys) (void)store_->remove(k);  // a blob left is an orphan, swept later
    staged_keys.clear();
  };

  for (size_t k = 0; k < roster->rows.size(); ++k) {
    const auto& row = roster->rows[k];
    if (!row.valid) continue;
    db::batch_row br;
    br.row = row.row;
    br.fields = row.fields;
    if (const auto e = match.entry_of_row[k]) {
      const std::string& name = entries[*e].name;
      const std::string idn = row.fields.id_number.value_or("");
      auto bytes = photos.read(*e, cfg_.pipeline.limits.max_bytes);
      if (!bytes) {
        if (bytes.err().code != errc::too_large && bytes.err().code != errc::corrupt) {
          remove_staged();
          f.where = stage::request;
          return base::make_error(bytes.err().code, "photos: " + name + ": " + bytes.err().detail);
        }
        nb.problems.push_back({row.row, idn, "unreadable_photo", unreadable_text(name, bytes.err())});
        print += "|" + std::to_string(row.row) + ":unreadable";
      } else {
        const std::string_view view(reinterpret_cast<const char*>(bytes->data()), bytes->size());
        print += "|" + std::to_string(row.row) + ":" + name + ":" + store::detail::sha256_hex(view);
        failure sf;
        auto s = stage_photo(view, o, std::nullopt, u.job.callback_url, &sf);
        if (!s) {
          if (sf.where != stage::image) {  // ours (store, database): the whole batch fails
            remove_staged();
            f = sf;
            return s.err();
          }
          nb.problems.push_back({row.row, idn, "unreadable_photo", unreadable_text(name, s.err())});
        } else {
          staged_keys.push_back(s->raw_key);
          s->card.photo_spec = u.options.spec;  // a spec the request chose becomes each card's
          br.with_photo = db::batch_row::photo{std::move(s->card), std::move(s->payload)};
        }
      }
    }
    nb.rows.push_back(std::move(br));
  }
  std::stable_sort(nb.problems.begin(), nb.problems.end(),
                   [](const db::batch_problem& a, const db::batch_problem& b) { return a.row < b.row; });
  nb.request_fingerprint = store::detail::sha256_hex(print);

  auto made = jobs_->create_batch(nb);
  if (!made) {
    remove_staged();
    f.where = stage::database;
    return made.err();
  }
  if (!made->created) {  // a replay: the first request's blobs are the batch's
    remove_staged();
    return made;
  }
  std::vector<std::string> ids;
  for (const auto& it : made->items)
    if (!it.job_id.empty()) ids.push_back(it.job_id);
  // A staged photo whose row got no job (its card had a job in flight) is nobody's.
  std::set<std::string> used;
  for (const auto& row : nb.rows)
    if (row.with_photo) used.insert(row.with_photo->card.raw_photo_key);
  if (ids.size() < used.size()) {
    std::set<std::string> with_job;
    for (const auto& it : made->items)
      if (!it.job_id.empty())
        for (const auto& row : nb.rows)
          if (row.row == it.row && row.with_photo) with_job.insert(row.with_photo->card.raw_photo_key);
    for (const auto& k : staged_keys)
      if (!with_job.count(k)) (void)store_->remove(k);
  }
  submit_jobs(ids, db::job_priority::batch);
  return made;
}

base::result<batch_view> service::get_batch(const std::string& id, int limit, const std::string& cursor,
                                            const db::org_filter& org) {
  auto b = jobs_->get_batch(id);
  if (!b) return b.err();
  if (org && b->organization != *org) return base::make_error(errc::not_found, "batch " + id + " (other organization)");
  batch_view v;
  v.b = std::move(*b);
  auto c = jobs_->counts_by_batch(id);
  if (!c) return c.err();
  v.counts = *c;
  auto p = jobs_->batch_problems(id);
  if (!p) return p.err();
  v.problems = std::move(*p);
  auto j = jobs_->list_by_batch(id, limit, cursor);
  if (!j) return j.err();
  v.jobs = std::move(*j);
  return v;
}

/* All the batch's cards that have a photo, 8 to an A4 page, in roster order: the clean photo
 * when there is one, else the raw photo and the card marked "PHOTO NOT CLEANED" (as card_pdf);
 * a raw photo that does not decode leaves its card out.
 * Every photo is in memory while the PDF is drawn, so the count is bounded by the roster's row
 * limit (IDPHOTO_MAX_BATCH_ROWS); cards without any photo are left out. */
base::result<std::vector<uint8_t>> service::batch_cards_pdf(const std::string& id, const db::org_filter& org) {
  auto b = jobs_->get_batch(id);
  if (!b) return b.err();
  if (org && b->organization != *org) return base::make_error(errc::not_found, "batch " + id + " (other organization)");
  auto jobs = all_jobs(*jobs_, id, cfg_.batch.max_rows);
  if (!jobs) return jobs.err();
  std::vector<card::card_input> cards;
  std::set<std::string> seen;
  for (const auto& j : *jobs) {
    if (j.card_id.empty() || !seen.insert(j.card_id).second) continue;
    auto c = repo_->get(j.card_id, org);
    if (!c) {
      if (c.err().code == errc::not_found) continue;  // deleted since
      return c.err();
    }
    auto in = card_input_of(*c);
    if (!in) return in.err();
    if (!*in) continue;  // no photo at all
    cards.push_back(std::move(**in));
  }
  if (cards.empty()) return base::make_error(errc::conflict, "no photo");
  auto pdf = card::render_pdf(cards, card::card_options{card::sheet_kind::a4});
  if (pdf ||
      (pdf.err().code != errc::corrupt && pdf.err().code != errc::unsupported && pdf.err().code != errc::too_large))
    return pdf;
  // A raw photo no decoder takes (its job failed on it: unreadable_photo) cannot be printed;
  // the rest of the batch still can. Found one card at a time, only on this path.
  std::vector<card::card_input> printable;
  for (auto& c : cards)
    if (card::render_pdf(c, card::card_options{card::sheet_kind::card})) printable.push_back(std::move(c));
  if (printable.empty()) return base::make_error(errc::conflict, "no photo");
  return card::render_pdf(printable, card::card_options{card::sheet_kind::a4});
}

/* One line per roster row that has a job or a problem, in row order: the job's and card's
 * state now and the row's problem codes. csv_line quotes as RFC 4180 says and puts a ' before
 * a cell a spreadsheet would run as a formula (names and idNumbers come from the client). */
base::result<std::string> service::batch_export_csv(const std::string& id, const db::org_filter& org) {
  auto b = jobs_->get_batch(id);
  if (!b) return b.err();
  if (org && b->organization != *org) return base::make_error(errc::not_found, "batch " + id + " (other organization)");
  auto jobs = all_jobs(*jobs_, id, cfg_.batch.max_rows);
  if (!jobs) return jobs.err();
  auto problems = jobs_->batch_problems(id);
  if (!problems) return problems.err();
  struct line {
    std::string id_number, full_name, card_id, job_status, photo_status, clean_url;
    std::vector<std::string> codes;
  };
  std::map<int, line> rows;
  for (const auto& j : *jobs) {
    line& l = rows[j.batch_row];
    l.card_id = j.card_id;
    l.job_status = db::job_status_name(j.status);
    if (j.card_id.empty()) continue;
    auto c = repo_->get(j.card_id, org);
    if (!c) {
      if (c.err().code == errc::not_found) continue;
      return c.err();
    }
    l.id_number = c->id_number;
    l.full_name = c->full_name;
    l.photo_status = db::photo_status_name(c->status);
    l.clean_url = c->clean_photo_url;
  }
  for (const auto& p : *problems) {
    line& l = rows[p.row];
    if (l.id_number.empty()) l.id_number = p.id_number;
    if (std::find(l.codes.begin(), l.codes.end(), p.code) == l.codes.end()) l.codes.push_back(p.code);
  }
  std::string out = batch::csv_line(
      {"row", "idNumber", "fullName", "cardId", "jobStatus", "photoStatus", "cleanPhotoUrl", "problem"});
  for (const auto& [row, l] : rows) {
    std::string codes;
    for (const auto& c : l.codes) codes += (codes.empty() ? "" : " ") + c;
    out += batch::csv_line({row == 0 ? std::string() : std::to_string(row), l.id_number, l.full_name, l.card_id,
                            l.job_status, l.photo_status, l.clean_url, codes});
  }
  return out;
}

}  // namespace idphoto::app
