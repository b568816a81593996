// The limits of a batch upload (roster CSV + photo ZIP), with defaults, from_env() and
// validate(); every key is documented in config/idphoto.example.env.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "base/result.hpp"

namespace idphoto::batch {

struct batch_config {
  int64_t max_batch_bytes = 512LL << 20;   // IDPHOTO_MAX_BATCH_BYTES: the ZIP (spooled upload)
  int64_t max_roster_bytes = 8LL << 20;    // IDPHOTO_MAX_ROSTER_BYTES: the CSV
  int64_t max_rows = 5000;                 // IDPHOTO_MAX_BATCH_ROWS: data rows of the roster
  int64_t max_zip_entries = 10000;         // IDPHOTO_MAX_ZIP_ENTRIES
  int64_t max_unzipped_bytes = 2LL << 30;  // IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES: all entries
  int64_t max_zip_ratio = 100;             // IDPHOTO_MAX_ZIP_RATIO: uncompressed / compressed,
                                           // per entry of 64 KiB or more
  // invalid_argument listing every key that does not parse or is out of range.
  static base::result<batch_config> from_env(const base::env_lookup& env = base::process_env);
  // invalid_argument listing every field out of range.
  base::result<void> validate() const;
};

// The IDPHOTO_MAX_BATCH_* / IDPHOTO_MAX_ROSTER_BYTES / IDPHOTO_MAX_ZIP_* keys, each with its one
// valid range (validate() checks the same ranges).
const std::vector<base::env_key>& env_keys();
// Overrides the fields of *c whose keys are set; appends one error per bad key to *errors.
void load_env(const base::env_lookup& env, batch_config* c, std::vector<std::string>* errors);

}  // namespace idphoto::batch
