// The QR code of a card: libqrencode, 8-bit mode, error correction level M (15%), the
// smallest version that holds the text.
#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <string>

#include "base/unique_handle.hpp"
#include "card/card_internal.hpp"

namespace idphoto::card::detail {

namespace {
using qrcode_ptr = base::unique_handle<QRcode, QRcode_free>;
}  // namespace

base::result<qr_matrix> make_qr(std::string_view text) {
  if (text.empty()) return base::make_error(base::errc::invalid_argument, "qr: empty text");
  const std::string s(text);  // NUL-terminated for libqrencode
  errno = 0;
  qrcode_ptr q(
      QRcode_encodeData(static_cast<int>(s.size()), reinterpret_cast<const unsigned char*>(s.data()), 0, QR_ECLEVEL_M));
  if (!q) {
    if (errno == ERANGE) return base::make_error(base::errc::too_large, "qr: text too long for a QR code");
    return base::make_error(base::errc::internal, "qr: libqrencode failed");
  }
  qr_matrix m;
  m.size = q->width;
  m.dark.resize(static_cast<size_t>(q->width) * q->width);
  for (size_t i = 0; i < m.dark.size(); ++i) m.dark[i] = (q->data[i] & 1) != 0;  // bit 0 = dark module
  return m;
}

}  // namespace idphoto::card::detail
