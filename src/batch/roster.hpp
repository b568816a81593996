// A roster: the CSV of people to issue cards for (fullName required; idNumber,
// organization, role, issuedAt, expiresAt, photo optional), read into card fields, one
// problem per row that cannot become a card.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "batch/batch_config.hpp"
#include "db/job_repository.hpp"
#include "db/repository.hpp"

namespace idphoto::batch {

struct roster_row {
  int row = 0;                // data rows from 1, the header and blank lines not counted
  int line = 0;               // the CSV line it starts on
  db::id_card_fields fields;  // every column set ("" when the cell is empty)
  std::string photo;          // the photo column: a file name in the photos, or ""
  bool valid = false;         // false: an invalid_row problem says why; it gets no card
};

struct roster {
  std::vector<roster_row> rows;              // every data row, in order
  std::vector<db::batch_problem> problems;   // invalid_row, one per invalid row
  std::vector<std::string> ignored_columns;  // header names we do not know (kept out)
  char separator = ',';
  size_t n_valid() const;
};

struct roster_options {
  // For rows whose organization cell is empty (or that have no organization column).
  std::string default_organization;
};

/* The roster in text (UTF-8 CSV, ',' or ';', BOM allowed). Header names are matched without
 * case, spaces, '_' or '-' ("Full Name", "full_name" and "fullName" are one column).
 * Whole-file errors: invalid_argument (empty, not UTF-8, malformed CSV, no fullName column, a
 * column given twice), too_large (over max_roster_bytes, or more than max_rows data rows).
 * Row errors are problems, not failures: a cell count that differs from the header's, a
 * field the card validation refuses (empty fullName, a date not YYYY-MM-DD, over 200 bytes,
 * control characters), an (organization, idNumber) already used by an earlier row. */
base::result<roster> parse_roster(std::string_view text, const batch_config& cfg, const roster_options& o = {});

}  // namespace idphoto::batch
