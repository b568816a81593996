// CSV as RFC 4180 describes it (quoted fields, doubled quotes, line breaks inside quotes),
// plus what spreadsheets add: a UTF-8 BOM, ';' as the separator, LF or CR line ends.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace idphoto::batch {

struct csv_record {
  int line = 0;  // physical line the record starts on (from 1)
  std::vector<std::string> fields;
};

struct csv_table {
  char separator = ',';             // ',' or ';', detected from the first record
  std::vector<csv_record> records;  // the header first; blank lines are not records
};

/* Parses text (UTF-8, a leading BOM skipped). At most max_records records (the header
 * included) are read; one more is too_large, reported as soon as it starts, so an oversized
 * file is not parsed to its end.
 * invalid_argument naming the line: not UTF-8, a quoted field not closed, text after a
 * closing quote, a quote inside an unquoted field; invalid_argument for empty text. */
base::result<csv_table> parse_csv(std::string_view text, int64_t max_records);

// One CSV line (with CRLF) of fields: quoted when needed (separator, quote, CR, LF, leading or
// trailing space). A field a spreadsheet would run as a formula (starting with = + - @ TAB CR)
// gets a leading ' (OWASP's CSV-injection advice), so exports open safely.
std::string csv_line(const std::vector<std::string>& fields, char separator = ',');

}  // namespace idphoto::batch
