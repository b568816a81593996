// The CSV reader and writer of csv.hpp: one pass over the text, a four-state machine.
#include "batch/csv.hpp"

#include "db/records.hpp"

namespace idphoto::batch {

namespace {

base::error at_line(int line, const std::string& what) {
  return base::make_error(base::errc::invalid_argument, "line " + std::to_string(line) + ": " + what);
}

/* The separator is the one of ',' and ';' that occurs more often outside quotes on the
 * first line (the header). A header of one column has neither: ',' then, which parses it
 * the same. Tabs are not detected: a TSV is not a CSV. */
char detect_separator(std::string_view text) {
  int commas = 0, semicolons = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    else if (!quoted && (c == '\n' || c == '\r')) break;
    else if (!quoted && c == ',') ++commas;
    else if (!quoted && c == ';') ++semicolons;
  }
  return semicolons > commas ? ';' : ',';
}

// The first physical line (from 1) that is not valid UTF-8, or 0. UTF-8 sequences never
// contain the byte '\n', so checking line by line checks the whole text.
int first_bad_utf8_line(std::string_view text) {
  int line = 1;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (!db::is_valid_utf8(text.substr(start, nl - start))) return line;
    ++line;
    start = nl + 1;
  }
  return 0;
}

}  // namespace

/* A state machine over the bytes: at the start of a field, inside an unquoted field, inside
 * a quoted field, or just after a quote inside a quoted field (which is either a doubled
 * quote or the closing one). Line ends (LF, CRLF or a lone CR) end a record outside quotes
 * and are kept as LF inside them. A record that is a single empty field — a blank line — is
 * dropped. RFC 4180 errors (an unclosed quote, text after a closing quote, a bare quote in
 * an unquoted field) are refused rather than guessed at: a guess could shift every later
 * column into the wrong field. */
base::result<csv_table> parse_csv(std::string_view text, int64_t max_records) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.empty()) return base::make_error(base::errc::invalid_argument, "empty file");
  if (const int bad = first_bad_utf8_line(text)) return at_line(bad, "not valid UTF-8 (save the file as UTF-8)");
  csv_table t;
  t.separator = detect_separator(text);
  enum class state { field_start, unquoted, quoted, quote_in_quoted } st = state::field_start;
  int line = 1, record_line = 1, quote_line = 1;
  csv_record rec;
  std::string field;
  bool record_started = false;
  const auto end_field = [&] {
    rec.fields.push_back(std::move(field));
    field.clear();
  };
  const auto end_record = [&]() -> base::result<void> {
    end_field();
    const bool blank = rec.fields.size() == 1 && rec.fields[0].empty();
    if (!blank) {
      if (static_cast<int64_t>(t.records.size()) >= max_records)
        return base::make_error(base::errc::too_large, "more than " + std::to_string(max_records - 1) +
                                                           " data rows (line " + std::to_string(record_line) + ")");
      rec.line = record_line;
      t.records.push_back(std::move(rec));
    }
    rec = csv_record{};
    record_started = false;
    return {};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!record_started) {
      record_line = line;
      record_started = true;
    }
    const bool is_cr = c == '\r', is_nl = c == '\n' || is_cr;
    if (is_cr && i + 1 < text.size() && text[i + 1] == '\n') ++i;  // CRLF is one line end
    switch (st) {
      case state::field_start:
        if (c == '"') {
          st = state::quoted;
          quote_line = line;
        } else if (c == t.separator) {
          end_field();
        } else if (is_nl) {
          IDPHOTO_TRY(end_record());
        } else {
          field += c;
          st = state::unquoted;
        }
        break;
      case state::unquoted:
        if (c == t.separator) {
          end_field();
          st = state::field_start;
        } else if (is_nl) {
          IDPHOTO_TRY(end_record());
          st = state::field_start;
        } else if (c == '"') {
          return at_line(line,
                         "a quote inside an unquoted field (quote the whole field and "
                         "double the quote: \"a \"\"b\"\" c\")");
        } else {
          field += c;
        }
        break;
      case state::quoted:
        if (c == '"') st = state::quote_in_quoted;
        else field += is_nl ? '\n' : c;
        break;
      case state::quote_in_quoted:
        if (c == '"') {
          field += '"';
          st = state::quoted;
        } else if (c == t.separator) {
          end_field();
          st = state::field_start;
        } else if (is_nl) {
          IDPHOTO_TRY(end_record());
          st = state::field_start;
        } else {
          return at_line(line, "text after a closing quote");
        }
        break;
    }
    if (is_nl) ++line;
  }
  if (st == state::quoted) return at_line(quote_line, "a quoted field is not closed");
  if (record_started) IDPHOTO_TRY(end_record());
  if (t.records.empty()) return base::make_error(base::errc::invalid_argument, "no header row");
  return t;
}

std::string csv_line(const std::vector<std::string>& fields, char separator) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += separator;
    std::string f = fields[i];
    if (!f.empty() && (f[0] == '=' || f[0] == '+' || f[0] == '-' || f[0] == '@' || f[0] == '\t' || f[0] == '\r'))
      f.insert(f.begin(), '\'');
    const bool quote = f.find_first_of(std::string("\"\r\n") + separator) != std::string::npos ||
                       (!f.empty() && (f.front() == ' ' || f.back() == ' '));
    if (!quote) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += "\r\n";
  return out;
}

}  // namespace idphoto::batch
