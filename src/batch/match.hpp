// Which photo belongs to which roster row: by file name = idNumber (any case, any photo
// extension, anywhere in the archive) or by the row's photo column.
#pragma once
#include <optional>
#include <vector>

#include "batch/photo_source.hpp"
#include "batch/roster.hpp"
#include "db/job_repository.hpp"

namespace idphoto::batch {

struct photo_match {
  std::vector<std::optional<size_t>> entry_of_row;  // per roster.rows[i]: an index into the entries
  std::vector<db::batch_problem> problems;          // no_photo and duplicate_photo, by row
  std::vector<size_t> unmatched;                    // photo entries no row took
};

/* For each valid row: the entries named in its photo column (the path inside the archive,
 * or just the file name; any case), or else the photo entries whose stem is its idNumber
 * (any case: "r12.JPG" is R12's). None: no_photo. Several: duplicate_photo, and the first by
 * name is used ("R12.jpg" before "R12.png"). Invalid rows get nothing (their invalid_row
 * problem says why). Non-photo files are never matched by idNumber. */
photo_match match_photos(const roster& r, const std::vector<photo_entry>& entries);

}  // namespace idphoto::batch
