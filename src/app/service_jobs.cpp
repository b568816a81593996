// Every card photo is a job (docs/architecture.md, "Photo jobs"): the request stores the raw
// photo and commits a clean_photo job; a dispatcher worker (any instance) cleans it, stores the
// clean photo under a key derived from the job and commits the card with the job's end.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "app/job_payload.hpp"
#include "app/service.hpp"
#include "app/service_internal.hpp"
#include "app/webhook.hpp"
#include "store/sigv4.hpp"

namespace idphoto::app {

using base::errc;

namespace {

failure failure_at(const base::error& e, stage s) { return failure{e, s}; }

photo_outcome outcome_of(const failure& f, std::optional<db::id_card> card = std::nullopt) {
  photo_outcome o;
  o.card = std::move(card);
  o.error = f;
  return o;
}

// The client's input, which a retry would not change: the job fails at once.
bool is_client_fault(const failure& f) {
  switch (f.err.code) {
    case errc::corrupt:
    case errc::unsupported:
    case errc::too_large:
    case errc::invalid_argument:
    case errc::not_found:
      return true;
    default:
      return false;
  }
}

/* The crash tests' fault hook: IDPHOTO_TEST_CRASH_AT=<point> kills this process (SIGKILL, as
 * the OOM killer or a power cut would) when a job reaches that point. Points: after_clean_put
 * (the clean photo is stored, the job and card not yet committed). Unset in production. */
void crash_point(const char* point) {
  static const char* at = std::getenv("IDPHOTO_TEST_CRASH_AT");
  if (at && std::strcmp(at, point) == 0) ::raise(SIGKILL);
}

bool ended(db::job_status s) {
  return s == db::job_status::done || s == db::job_status::failed || s == db::job_status::dead;
}

}  // namespace

base::result<void> check_callback_url(const std::string& url, const app_config& cfg) {
  if (url.empty()) return {};
  if (cfg.webhook_secret.empty())
    return base::make_error(errc::invalid_argument, "callbackUrl: this server has no IDPHOTO_WEBHOOK_SECRET");
  auto ok = fetch::check_url_text(url);
  if (!ok.ok()) return base::make_error(errc::invalid_argument, "callbackUrl: " + ok.err().detail);
  return {};
}

base::result<service::staged_photo> service::stage_photo(std::string_view bytes, const photo_options& o,
                                                         const std::optional<db::id_card>& before,
                                                         const std::string& callback_url, failure* why) {
  auto info = check_photo(bytes, cfg_.pipeline.limits);
  if (!info.ok()) {
    *why = failure_at(info.err(), stage::image);
    return info.err();
  }
  const std::string type = content_type_of(info->fmt);
  auto raw = store_->put(bytes, type, "raw");
  if (!raw.ok()) {
    *why = failure_at(raw.err(), stage::store);
    return raw.err();
  }
  staged_photo s;
  s.raw_key = raw->key;
  s.keeps_previous = before && before->status == db::photo_status::clean && !before->clean_photo_key.empty();
  s.card.raw_photo_url = raw->url;
  s.card.raw_photo_key = raw->key;
  s.card.status = db::photo_status::processing;
  clean_payload p;
  p.raw_key = raw->key;
  p.raw_url = raw->url;
  p.raw_content_type = type;
  p.options = o;
  p.callback_url = callback_url;
  s.payload = encode_payload(p);
  return s;
}

void service::submit_jobs(const std::vector<std::string>& job_ids, db::job_priority p) {
  for (const auto& id : job_ids) {
    auto r = dispatcher_->submit(id, p);
    if (!r.ok()) std::fprintf(stderr, "idphoto: job %s: submit: %s\n", id.c_str(), r.err().to_string().c_str());
  }
}

/* The order (crash-safe): (1) the raw photo is stored; (2) one transaction commits the job and,
 * unless the card keeps a clean photo until the new one is done, the card's raw photo with
 * photoStatus processing; (3) the blobs the card stopped referencing are removed. A crash after
 * (1) leaves an orphan (swept), after (2) a queued job that any instance resumes. A refused or
 * replayed request removes what (1) stored. */
photo_outcome service::photo_job(const std::string& card_id, const photo_options& o, const job_request& jr,
                                 const db::org_filter& org, const std::string& fingerprint_seed,
                                 const std::function<base::result<std::string>()>& get_bytes) {
  auto card = repo_->get(card_id, org);
  if (!card.ok()) return outcome_of(failure_at(card.err(), stage::database));
  photo_options with_spec = o;  // the card's photoSpec frames the photo unless the request names one
  if (!with_spec.spec) with_spec.spec = card->photo_spec;
  auto co = resolve_options(with_spec);
  if (!co.ok()) return outcome_of(failure_at(co.err(), stage::request), *card);
  if (auto cb = check_callback_url(jr.callback_url, cfg_); !cb.ok())
    return outcome_of(failure_at(cb.err(), stage::request), *card);
  // A card busy with a photo job is refused before anything is fetched or stored (the enqueue's
  // unique index decides the race of two requests that both pass this), unless this request is
  // a replay of that job's (same idempotency key).
  auto active = jobs_->active_for_card(card->id);
  if (!active.ok()) return outcome_of(failure_at(active.err(), stage::database), *card);
  const bool replay = *active && !jr.idempotency_key.empty() && (*active)->idempotency_key == jr.idempotency_key &&
                      (*active)->subject == jr.subject && (*active)->endpoint == jr.endpoint;
  if (*active && !replay)  // a replay of the job in flight goes on to get it back
    return outcome_of(
        failure_at(base::make_error(errc::conflict, "another photo job for this card is in flight: " + (*active)->id),
                   stage::database),
        *card);
  // A synchronous request holds an admitted place while it waits (the memory of its answer and
  // a handler thread); before fetching or storing, so a refused request costs nothing.
  std::optional<ticket> place;
  if (!jr.async) {
    auto t = pool_->reserve();
    if (!t.ok()) return outcome_of(failure_at(t.err(), stage::queue), *card);
    place.emplace(std::move(*t));
  }
  auto bytes = get_bytes();
  if (!bytes.ok()) return outcome_of(failure_at(bytes.err(), stage::fetch), *card);
  failure why;
  auto staged = stage_photo(*bytes, with_spec, *card, jr.callback_url, &why);
  if (!staged.ok()) return outcome_of(why, *card);

  db::new_job nj;
  nj.kind = clean_photo_kind;
  nj.card_id = card->id;
  nj.payload = staged->payload;
  nj.priority = db::job_priority::interactive;
  nj.max_attempts = cfg_.job_max_attempts;
  nj.subject = jr.subject;
  nj.endpoint = jr.endpoint;
  nj.idempotency_key = jr.idempotency_key;
  if (!jr.idempotency_key.empty())
    nj.request_fingerprint = store::detail::sha256_hex(fingerprint_seed + "\n" +
                                                       encode_payload(clean_payload{"-", "", "", o, jr.callback_url}) +
                                                       "\n" + store::detail::sha256_hex(*bytes));
  if (!staged->keeps_previous) {
    staged->card.photo_spec = o.spec;  // a spec the request chose becomes the card's
    nj.card_on_create = staged->card;
  }
  bytes->clear();
  auto q = jobs_->enqueue(nj);
  if (!q.ok() || !q->created) (void)store_->remove(staged->raw_key);  // refused, or a replay: not ours
  if (!q.ok()) {
    if (q.err().code == errc::conflict && !db::is_idempotency_mismatch(q.err()))
      return outcome_of(
          failure_at(base::make_error(errc::conflict,
                                      "another photo request for this card is in flight (" + q.err().detail + ")"),
                     stage::database),
          *card);
    return outcome_of(failure_at(q.err(), stage::database), *card);
  }
  if (q->created && !staged->keeps_previous)  // the card names the new raw photo now
    for (const auto* k : {&card->raw_photo_key, &card->clean_photo_key})
      if (!k->empty() && *k != staged->raw_key) (void)store_->remove(*k);
  if (q->created) submit_jobs({q->j.id}, db::job_priority::interactive);

  photo_outcome out;
  out.job = q->j;
  out.job_created = q->created;
  if (!jr.async && !ended(q->j.status)) {
    // The clean's own timeout, plus the time to claim and commit; past that the job goes on and
    // the answer is the job (202).
    auto waited = dispatcher_->wait(q->j.id, int64_t{cfg_.job_timeout_ms} + 5000);
    if (waited.ok()) out.job = *waited;
    else if (waited.err().code != errc::timeout) return outcome_of(failure_at(waited.err(), stage::database), *card);
  }
  place.reset();
  auto now = repo_->get(card->id);
  if (now.ok()) out.card = *now;
  else if (now.err().code != errc::not_found) return outcome_of(failure_at(now.err(), stage::database), *card);
  if (out.job->status == db::job_status::failed || out.job->status == db::job_status::dead)
    out.error = failure_of_job_error(out.job->last_error);
  return out;
}

photo_outcome service::submit_photo(const std::string& card_id, std::string bytes, const photo_options& o,
                                    const job_request& jr, const db::org_filter& org) {
  if (auto co = resolve_options(o); !co.ok()) return outcome_of(failure_at(co.err(), stage::request));
  return photo_job(card_id, o, jr, org, "upload\n" + card_id,
                   [&]() -> base::result<std::string> { return std::move(bytes); });
}

photo_outcome service::submit_fetch(const std::string& card_id, const std::string& url, const photo_options& o,
                                    const job_request& jr, const db::org_filter& org) {
  if (auto co = resolve_options(o); !co.ok()) return outcome_of(failure_at(co.err(), stage::request));
  if (url.empty())
    return outcome_of(failure_at(base::make_error(errc::invalid_argument, "rawPhotoUrl is required"), stage::request));
  return photo_job(card_id, o, jr, org, "fetch\n" + card_id + "\n" + url, [&]() -> base::result<std::string> {
    auto got = fetch::fetch_url(url, cfg_.fetch);
    if (!got.ok()) return got.err();
    return std::move(got->bytes);
  });
}

photo_outcome service::upload_photo(const std::string& card_id, std::string bytes, const photo_options& o,
                                    const db::org_filter& org) {
  return submit_photo(card_id, std::move(bytes), o, job_request{}, org);
}

photo_outcome service::fetch_and_clean(const std::string& card_id, const std::string& url, const photo_options& o,
                                       const db::org_filter& org) {
  return submit_fetch(card_id, url, o, job_request{}, org);
}

base::result<db::job> service::get_job(const std::string& id, const db::org_filter& org) {
  auto j = jobs_->get(id);
  if (!j.ok()) return j.err();
  if (!org) return j;
  if (!j->card_id.empty()) {
    auto c = repo_->get(j->card_id, org);
    if (c.ok()) return j;
    if (c.err().code != errc::not_found) return c.err();
  }
  if (!j->batch_id.empty()) {
    auto b = jobs_->get_batch(j->batch_id);
    if (!b.ok() && b.err().code != errc::not_found) return b.err();
    if (b.ok() && b->organization == *org) return j;
  }
  return base::make_error(errc::not_found, "job " + id);
}

/* The clean_photo job on a dispatcher worker. One runner per worker thread; run and committed
 * are called one after the other on that thread, so the blobs to remove after the commit are
 * kept in members between the two. */
class service::photo_runner final : public job_runner {
 public:
  explicit photo_runner(service* s) : s_(s) {}

  job_outcome run(const db::job& j) override {
    after_ = {};
    job_outcome out;
    if (j.kind == webhook_kind) return deliver(j);
    auto p = decode_payload(j.payload);
    if (!p.ok()) return transient(out, failure_at(p.err(), stage::database), nullptr, nullptr);
    after_.raw_key = p->raw_key;
    after_.callback_url = p->callback_url;
    auto card = s_->repo_->get(j.card_id);
    if (!card.ok()) {
      if (card.err().code != errc::not_found)
        return transient(out, failure_at(card.err(), stage::database), nullptr, nullptr);
      after_.card_gone = true;  // deleted while its photo waited: nothing to clean for
      return client(out, j, failure_at(base::make_error(errc::not_found, "the card was deleted"), stage::database), *p,
                    nullptr);
    }
    // The card keeps its clean photo until this one is done when the request found it so (the
    // job then did not write the card when it was made).
    const bool keep =
        card->raw_photo_key != p->raw_key && card->status == db::photo_status::clean && !card->clean_photo_key.empty();
    if (keep) after_.previous = {card->raw_photo_key, card->clean_photo_key};

    auto bytes = s_->store_->get(p->raw_key);
    if (!bytes.ok()) {
      failure f = failure_at(bytes.err(), stage::store);
      return bytes.err().code == errc::not_found ? client(out, j, f, *p, &*card) : transient(out, f, &*p, &*card);
    }
    auto co = s_->resolve_options(p->options);
    if (!co.ok()) return client(out, j, failure_at(co.err(), stage::request), *p, &*card);
    auto info = check_photo(*bytes, s_->cfg_.pipeline.limits);
    if (!info.ok()) return client(out, j, failure_at(info.err(), stage::image), *p, &*card);
    auto place = s_->pool_->reserve_dispatched();
    if (!place.ok()) return transient(out, failure_at(place.err(), stage::queue), &*p, &*card);
    auto cleaned = s_->pool_->run(std::move(*place), std::make_shared<const std::string>(std::move(*bytes)), *co,
                                  s_->cfg_.job_timeout_ms);
    if (!cleaned.ok()) {
      failure f = failure_at(cleaned.err(), pipeline::is_no_face(cleaned.err()) ? stage::frame : stage::clean);
      return is_client_fault(f) ? client(out, j, f, *p, &*card) : transient(out, f, &*p, &*card);
    }
    const std::string bytes_out(reinterpret_cast<const char*>(cleaned->bytes.data()), cleaned->bytes.size());
    auto clean = s_->store_->put(bytes_out, content_type_of(cleaned->fmt), "clean", j.id);
    if (!clean.ok()) return transient(out, failure_at(clean.err(), stage::store), &*p, &*card);
    after_.clean_key = clean->key;
    crash_point("after_clean_put");

    db::photo_update u;
    u.raw_photo_url = p->raw_url;
    u.raw_photo_key = p->raw_key;
    u.clean_photo_url = clean->url;
    u.clean_photo_key = clean->key;
    u.status = db::photo_status::clean;
    u.photo_warning = photo_warning_of(*cleaned);
    u.photo_report = photo_report_of(*cleaned);
    u.photo_spec = p->options.spec;
    out.end.card = u;
    nlohmann::json o = {{"cleanPhotoUrl", clean->url}, {"photoWarning", u.photo_warning}};
    if (cleaned->framed) {
      const auto& c = cleaned->framed->compliance;
      std::string failed;
      for (const auto& rule : c.rules)
        if (!rule.pass) failed += (failed.empty() ? "" : ",") + rule.rule;
      o["spec"] = cleaned->spec_name;
      o["compliance"] = pipeline::verdict_name(c.overall);
      o["rulesFailed"] = failed;
      if (!j.batch_id.empty() && c.overall == pipeline::verdict::fail) {
        out.end.problem_code = "compliance_fail";
        out.end.problem_message = "the photo does not meet " + cleaned->spec_name + ": " + failed;
      }
    }
    out.end.output = o.dump();
    return out;
  }

  void committed(const db::job& now, const job_outcome&) override {
    if (now.kind == webhook_kind || now.status == db::job_status::queued) return;  // it runs again
    if (!after_.callback_url.empty()) enqueue_webhook(now);
    auto card = s_->repo_->get(now.card_id);
    const bool gone = after_.card_gone || (!card.ok() && card.err().code == errc::not_found);
    std::vector<std::string> remove;
    if (gone) {  // nobody will ever name this job's files
      remove = {after_.raw_key, after_.clean_key};
    } else if (now.status == db::job_status::done) {
      remove = {after_.previous.raw_key, after_.previous.clean_key};  // replaced by this photo
    } else if (!after_.previous.clean_key.empty()) {
      remove = {after_.raw_key};  // the previous photo stands; this attempt's raw file goes
    }
    for (const auto& k : remove) {
      if (k.empty()) continue;
      if (card.ok() && (k == card->raw_photo_key || k == card->clean_photo_key)) continue;  // still named
      (void)s_->store_->remove(k);
    }
  }

 private:
  // The card's photo columns for a failed attempt: failed with the raw photo kept, or, when
  // the card keeps its previous clean photo, that photo with photoError.
  static db::photo_update failed_columns(const db::id_card& card, const clean_payload& p, const failure& f) {
    db::photo_update u;
    const bool keep =
        card.raw_photo_key != p.raw_key && card.status == db::photo_status::clean && !card.clean_photo_key.empty();
    if (keep) {
      u.raw_photo_url = card.raw_photo_url;
      u.raw_photo_key = card.raw_photo_key;
      u.clean_photo_url = card.clean_photo_url;
      u.clean_photo_key = card.clean_photo_key;
      u.status = db::photo_status::clean;
      u.photo_warning = card.photo_warning;
      u.photo_report = card.photo_report;
    } else {
      u.raw_photo_url = p.raw_url;
      u.raw_photo_key = p.raw_key;
      u.status = db::photo_status::failed;
      u.photo_spec = p.options.spec;
    }
    u.photo_error = photo_error_text(f);
    return u;
  }

  static job_outcome& client(job_outcome& out, const db::job& j, const failure& f, const clean_payload& p,
                             const db::id_card* card) {
    out.fault = job_fault::client;
    out.end.error = job_error_text(f);
    if (card) out.end.card = failed_columns(*card, p, f);
    if (!j.batch_id.empty()) {
      const bool no_face = f.where == stage::frame;
      out.end.problem_code = no_face ? "compliance_fail" : "unreadable_photo";
      out.end.problem_message = photo_error_text(f);
    }
    return out;
  }

  // Ours and maybe passing: retried; the card columns apply only when the job dies.
  static job_outcome& transient(job_outcome& out, const failure& f, const clean_payload* p, const db::id_card* card) {
    out.fault = job_fault::transient;
    out.end.error = job_error_text(f);
    if (p && card) out.end.card = failed_columns(*card, *p, f);
    return out;
  }

  struct keys {
    std::string raw_key, clean_key;
  };
  // One delivery of a webhook job: done, failed (the receiver or the policy refuses it) or
  // retried with the dispatcher's backoff.
  job_outcome deliver(const db::job& j) {
    job_outcome out;
    auto p = decode_webhook(j.payload);
    if (!p.ok()) {
      out.fault = job_fault::client;
      out.end.error = job_error_text(failure_at(p.err(), stage::database));
      return out;
    }
    const delivery_result r = deliver_webhook(*p, j.id, s_->cfg_.webhook_secret, s_->cfg_.fetch);
    out.fault = r.how == delivery::done      ? job_fault::none
                : r.how == delivery::refused ? job_fault::client
                                             : job_fault::transient;
    if (r.how == delivery::done) out.end.output = nlohmann::json{{"delivered", r.detail}}.dump();
    else
      out.end.error = job_error_text(failure_at(
          base::make_error(r.how == delivery::refused ? errc::forbidden : errc::unavailable, r.detail), stage::fetch));
    return out;
  }

  /* The webhook of a photo job that ended: its own job (same priority), so it is retried and
   * survives a restart. A crash between the photo job's commit and this enqueue loses the
   * webhook (the result itself is committed; GET /api/jobs/{id} has it). */
  void enqueue_webhook(const db::job& ended) {
    nlohmann::json body = {{"event", "photo_job.ended"},
                           {"jobId", ended.id},
                           {"kind", ended.kind},
                           {"status", db::job_status_name(ended.status)},
                           {"attempts", ended.attempts},
                           {"cardId", ended.card_id},
                           {"batchId", ended.batch_id},
                           {"batchRow", ended.batch_row},
                           {"finishedAt", ended.finished_at},
                           {"error", nullptr},
                           {"result", nullptr}};
    if (ended.status == db::job_status::done) {
      auto r = nlohmann::json::parse(ended.output, nullptr, false);
      if (!r.is_discarded()) body["result"] = r;
    } else {
      body["error"] = {{"message", photo_error_text(failure_of_job_error(ended.last_error))}};
    }
    db::new_job nj;
    nj.kind = webhook_kind;
    nj.payload = encode_webhook(after_.callback_url, body.dump());
    nj.priority = ended.priority;
    nj.max_attempts = webhook_max_attempts;
    auto q = s_->jobs_->enqueue(nj);
    if (!q.ok()) {
      std::fprintf(stderr, "idphoto: job %s: webhook not queued: %s\n", ended.id.c_str(), q.err().to_string().c_str());
      return;
    }
    s_->submit_jobs({q->j.id}, ended.priority);
  }

  struct after_commit {
    std::string callback_url;
    std::string raw_key, clean_key;  // this job's files
    keys previous;                   // the card's previous photo, kept until this one is done
    bool card_gone = false;
  };
  service* s_;
  after_commit after_;
};

std::unique_ptr<job_runner> service::new_photo_runner() { return std::make_unique<photo_runner>(this); }

}  // namespace idphoto::app
