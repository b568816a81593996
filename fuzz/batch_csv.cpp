// Fuzz target batch_csv: a roster CSV as `idphoto batch` and POST /api/batches read it:
// parse_csv (RFC 4180 quoting, BOM, ',' or ';', CR/LF/CRLF) and parse_roster (header matching,
// card fields, per-row problems, duplicate ids), with a small row limit so the too_large path
// is reached too.
// Invariants: records start on increasing lines; a record written back with csv_line (when no
// field starts like a formula, which csv_line prefixes with ') under a header with the same
// separator parses to the same fields.
#include <string>
#include <string_view>

#include "batch/batch_config.hpp"
#include "batch/csv.hpp"
#include "batch/roster.hpp"
#include "fuzz_target.hpp"

namespace {

constexpr int64_t k_max_records = 64;

bool formula_like(const std::string& f) {
  return !f.empty() && (f[0] == '=' || f[0] == '+' || f[0] == '-' || f[0] == '@' || f[0] == '\t' || f[0] == '\r');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto::batch;
  const std::string_view text = idphoto::fuzz::as_text(data, size);

  auto table = parse_csv(text, k_max_records);
  if (table.ok()) {
    FUZZ_CHECK(table->separator == ',' || table->separator == ';');
    FUZZ_CHECK(static_cast<int64_t>(table->records.size()) <= k_max_records);
    int last_line = 0;
    for (const auto& r : table->records) {
      FUZZ_CHECK(r.line > last_line);
      last_line = r.line;
      bool plain = !r.fields.empty();
      for (const auto& f : r.fields) plain = plain && !formula_like(f);
      if (!plain) continue;
      // The separator is detected from the first line: a header of two cells pins it.
      const std::string text_back = csv_line({"x", "x"}, table->separator) + csv_line(r.fields, table->separator);
      auto back = parse_csv(text_back, 3);
      FUZZ_CHECK(back.ok() && back->records.size() == 2);
      FUZZ_CHECK(back->records[1].fields == r.fields);
    }
  }

  batch_config cfg;
  cfg.max_rows = k_max_records;
  auto roster = parse_roster(text, cfg);
  if (roster.ok()) {
    FUZZ_CHECK(static_cast<int64_t>(roster->rows.size()) <= cfg.max_rows);
    FUZZ_CHECK(roster->n_valid() + roster->problems.size() == roster->rows.size());
  }
  return 0;
}
