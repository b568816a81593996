// A job as the API shows it (GET /api/jobs/{id}, the 202 answers of async photo requests).
#pragma once
#include <nlohmann/json.hpp>

#include "db/job_repository.hpp"

namespace idphoto::server {

/* {"id","kind","status","attempts","maxAttempts","cardId","batchId","batchRow","createdAt",
 * "startedAt","finishedAt","updatedAt","error","result"} (docs/api.md). error: null, or
 * {"code","message"} with the error table's code and the public photoError text (never the
 * log detail); result: null, or the job's output (for clean_photo: cleanPhotoUrl,
 * photoWarning and, when framed, spec, compliance, rulesFailed). */
nlohmann::json job_json(const db::job& j);
// Its "error" member alone: null, or {"code","message"} (public text only).
nlohmann::json job_error_json(const db::job& j);

}  // namespace idphoto::server
