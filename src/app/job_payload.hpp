// What a clean_photo job carries from the request that made it to the worker that runs it
// (on any instance): its payload as JSON text in jobs.payload, and how a failure is written in
// jobs.last_error so that the request waiting for it can answer with the error table's status.
#pragma once
#include <optional>
#include <string>

#include "app/service.hpp"
#include "base/result.hpp"

namespace idphoto::app {

// The job kind of every card photo (upload, fetch and clean, batch row).
inline constexpr const char* clean_photo_kind = "clean_photo";

struct clean_payload {
  std::string raw_key;  // the raw photo in the blob store (stored before the job was made)
  std::string raw_url;
  std::string raw_content_type;
  photo_options options;     // as requested, spec = what to frame to (the card's by default); it
                             // becomes the card's photoSpec with the clean photo
  std::string callback_url;  // "" = none
};

// {"v":1,"rawKey",...}: compact JSON, well under the job repository's 64 KiB.
std::string encode_payload(const clean_payload& p);
// corrupt when text is not a payload this version wrote.
base::result<clean_payload> decode_payload(const std::string& text);

// last_error of a failed or dead job: "<errc>/<stage>: <detail>" (errc_name, stage_name).
std::string job_error_text(const failure& f);
// The failure written by job_error_text; internal at clean when text is not in that form (a job
// ended by the housekeeper: its lease expired too often).
failure failure_of_job_error(const std::string& text);

}  // namespace idphoto::app
