// Internal to idphoto_store: the key format both backends share, and random names.
// Keys are "<folder>/<32 lowercase hex>.<ext>"; nothing else is ever accepted as a key.
#pragma once
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace idphoto::store::detail {

struct key_parts {
  std::string folder;  // raw | clean | card
  std::string id_hex;  // 32 lowercase hex chars
  std::string ext;     // png | jpg | webp | heic | tiff | pdf
};

// invalid_argument for anything that is not exactly a key this module makes.
base::result<key_parts> parse_key(const std::string& key);
// invalid_argument for a content type outside the six we store.
base::result<std::string> ext_for_content_type(const std::string& content_type);
// invalid_argument for a folder outside raw/clean/card.
base::result<void> check_folder(const std::string& folder);
// 32 lowercase hex chars from 128 bits of OpenSSL's CSPRNG; internal when the RNG fails.
base::result<std::string> random_hex_128();
// name when it is 32 lowercase hex chars (a caller-chosen blob name), a random one when it is
// "", invalid_argument otherwise.
base::result<std::string> name_or_random(const std::string& name);
// For error messages: a key made printable and cut to a sane length (hostile keys get logged).
std::string printable(std::string_view s);

}  // namespace idphoto::store::detail
