// The job's JSON: its row in camelCase, the failure through the one error table.
#include "server/job_json.hpp"

#include "app/job_payload.hpp"
#include "server/card_json.hpp"
#include "server/http_errors.hpp"

namespace idphoto::server {

using json = nlohmann::json;

json job_error_json(const db::job& j) {
  const bool failed = j.status == db::job_status::failed || j.status == db::job_status::dead;
  // A queued job with an error is waiting for a retry: the error says why the last run failed.
  const bool waiting = j.status == db::job_status::queued || j.status == db::job_status::running;
  if (!failed && !(waiting && !j.last_error.empty())) return nullptr;
  const app::failure f = app::failure_of_job_error(j.last_error);
  const http_error e = http_error_for(f.err, f.where);
  return {{"code", e.code}, {"message", app::photo_error_text(f)}};
}

json job_json(const db::job& j) {
  json out = {{"id", j.id},
              {"kind", j.kind},
              {"status", db::job_status_name(j.status)},
              {"attempts", j.attempts},
              {"maxAttempts", j.max_attempts},
              {"cardId", nullable(j.card_id)},
              {"batchId", nullable(j.batch_id)},
              {"batchRow", j.batch_id.empty() ? json(nullptr) : json(j.batch_row)},
              {"createdAt", j.created_at},
              {"startedAt", nullable(j.started_at)},
              {"finishedAt", nullable(j.finished_at)},
              {"updatedAt", nullable(j.updated_at)},
              {"error", nullptr},
              {"result", nullptr}};
  out["error"] = job_error_json(j);
  if (j.status == db::job_status::done && !j.output.empty()) {
    json r = json::parse(j.output, nullptr, false);
    if (!r.is_discarded()) out["result"] = std::move(r);
  }
  return out;
}

}  // namespace idphoto::server
