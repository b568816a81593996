// The store key format (parse, build) and the random 128-bit ids behind it.
// Parsing is a hand-written exact matcher: no regex engine, no normalisation, no decoding.
#include "store/store_key.hpp"

#include <openssl/rand.h>

#include <array>

namespace idphoto::store::detail {

namespace {

constexpr std::array<std::string_view, 3> k_folders = {"raw", "clean", "card"};

struct type_ext {
  std::string_view content_type, ext;
};
constexpr std::array<type_ext, 6> k_types = {{{"image/png", "png"},
                                              {"image/jpeg", "jpg"},
                                              {"image/webp", "webp"},
                                              {"image/heic", "heic"},
                                              {"image/tiff", "tiff"},
                                              {"application/pdf", "pdf"}}};

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 80)) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 80) out += "…(" + std::to_string(s.size()) + " bytes)";
  return out;
}

base::result<void> check_folder(const std::string& folder) {
  for (auto f : k_folders)
    if (folder == f) return {};
  return base::make_error(base::errc::invalid_argument,
                          "store folder must be raw, clean or card, not '" + printable(folder) + "'");
}

base::result<std::string> ext_for_content_type(const std::string& content_type) {
  for (const auto& t : k_types)
    if (content_type == t.content_type) return std::string(t.ext);
  return base::make_error(base::errc::invalid_argument,
                          "store does not keep content type '" + printable(content_type) + "'");
}

/*
 * Exact match of "<folder>/<32 hex>.<ext>": split at the first '/', require the folder to be
 * one of three words, then exactly 32 lowercase hex chars, a '.', and one of six extensions,
 * and nothing more. Everything else (.., a second '/', NUL, absolute paths, upper-case hex,
 * UTF-8, over-long input) fails one of these comparisons; the maximum valid length is 43.
 */
base::result<key_parts> parse_key(const std::string& key) {
  auto bad = [&](const char* why) -> base::result<key_parts> {
    return base::make_error(base::errc::invalid_argument,
                            std::string("not a store key (") + why + "): '" + printable(key) + "'");
  };
  if (key.size() > 64) return bad("too long");
  auto slash = key.find('/');
  if (slash == std::string::npos) return bad("no folder");
  key_parts p;
  p.folder = key.substr(0, slash);
  if (!check_folder(p.folder).ok()) return bad("unknown folder");
  std::string_view rest(key);
  rest.remove_prefix(slash + 1);
  if (rest.size() < 34) return bad("id too short");
  for (std::size_t i = 0; i < 32; ++i)
    if (!is_lower_hex(rest[i])) return bad("id is not 32 lowercase hex");
  if (rest[32] != '.') return bad("no extension");
  p.id_hex = std::string(rest.substr(0, 32));
  auto ext = rest.substr(33);
  for (const auto& t : k_types) {
    if (ext == t.ext) {
      p.ext = std::string(ext);
      return p;
    }
  }
  return bad("unknown extension");
}

base::result<std::string> random_hex_128() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return base::make_error(base::errc::internal, "RAND_bytes failed");
  static const char* hex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  return out;
}

base::result<std::string> name_or_random(const std::string& name) {
  if (name.empty()) return random_hex_128();
  bool ok = name.size() == 32;
  for (char c : name) ok = ok && is_lower_hex(c);
  if (!ok)
    return base::make_error(base::errc::invalid_argument,
                            "blob name must be 32 lowercase hex chars, not '" + printable(name) + "'");
  return name;
}

}  // namespace idphoto::store::detail
