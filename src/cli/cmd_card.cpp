// `idphoto card`: one ID card as a PDF (CR80 page, or on an A4 sheet with crop marks) from
// the card's text fields and a photo file, offline (no server, no database).
#include <sys/random.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "card/card.hpp"
#include "cli/args.hpp"
#include "image/encode.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"

#if defined(__SANITIZE_ADDRESS__)
// Sanitized builds only: fontconfig keeps (and partly never frees) its configuration for the
// process's life and cairo 1.16 leaks one array per PDF font subset; neither is our code.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\nleak:libcairo.so\n"; }
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }
#endif

namespace idphoto::cli {

namespace {
const char* help =
    "usage: idphoto card --name NAME --photo FILE -o OUT.pdf [options]\n"
    "  the front of a CR80 ID card (85.60 x 53.98 mm) as a PDF; photo placed at >= 300 dpi\n"
    "  --name NAME           full name (required; UTF-8, at most 200 bytes)\n"
    "  --photo FILE          the photo: JPEG, PNG, WebP, HEIC or TIFF (required)\n"
    "  -o, --output OUT.pdf  where to write the PDF (required; never over the photo)\n"
    "  --id-number TEXT      --organization TEXT   --role TEXT\n"
    "  --issued DATE         --expires DATE        (printed as given, e.g. 2026-01-15)\n"
    "  --card-id ID          printed and encoded in the QR code (default: 32 random hex chars)\n"
    "  --verify-url URL      the QR code holds URL followed by the card id instead\n"
    "  --raw                 the photo is not cleaned: the card is marked \"PHOTO NOT CLEANED\"\n"
    "  --sheet card|a4       card: the page is the card (default); a4: on an A4 sheet with crop marks\n";

// 32 lowercase hex chars from getrandom(); "" when the OS refuses.
std::string random_id() {
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) return "";
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "idphoto: error: %s\n", msg.c_str());
  return code;
}
}  // namespace

int cmd_card(const std::vector<std::string>& argv) {
  auto a = parse_args(argv,
                      {"--name", "--photo", "-o", "--output", "--id-number", "--organization", "--role", "--issued",
                       "--expires", "--card-id", "--verify-url", "--sheet"},
                      {"--help", "-h", "--raw"});
  if (!a.ok()) return fail(a.err().detail + "\n(see idphoto card --help)", 2);
  if (a->has("--help") || a->has("-h")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (!a->positional.empty()) return fail("unexpected argument '" + a->positional[0] + "'", 2);
  const std::string out = a->has("-o") ? a->get("-o") : a->get("--output");
  const std::string photo_path = a->get("--photo");
  if (a->get("--name").empty() || photo_path.empty() || out.empty())
    return fail("--name, --photo and -o are required\n(see idphoto card --help)", 2);
  auto sheet = card::sheet_from(a->get("--sheet", "card"));
  if (!sheet.ok()) return fail(sheet.err().detail, 2);

  card::card_input in;
  in.full_name = a->get("--name");
  in.id_number = a->get("--id-number");
  in.organization = a->get("--organization");
  in.role = a->get("--role");
  in.issued_at = a->get("--issued");
  in.expires_at = a->get("--expires");
  in.verify_url = a->get("--verify-url");
  in.photo_is_clean = !a->has("--raw");
  in.card_id = a->has("--card-id") ? a->get("--card-id") : random_id();
  if (in.card_id.empty()) return fail("cannot get random bytes for the card id");

  // Read the photo, refusing files over the image byte limit before reading them whole.
  std::ifstream f(photo_path, std::ios::binary | std::ios::ate);
  if (!f) return fail("cannot read " + photo_path);
  const std::streamoff size = f.tellg();
  if (size < 0 || size > image::image_limits{}.max_bytes)
    return fail(photo_path + ": larger than the image byte limit");
  f.seekg(0);
  in.photo_bytes.resize(static_cast<size_t>(size));
  if (size > 0 && !f.read(in.photo_bytes.data(), size)) return fail("cannot read " + photo_path);

  if (auto r = image::init_vips(1); !r.ok()) return fail(r.err().to_string());
  auto pdf = card::render_pdf(in, card::card_options{*sheet});
  if (!pdf.ok()) return fail(photo_path + ": " + pdf.err().to_string());
  image::write_options wo;
  wo.protected_paths = {photo_path};
  if (auto w = image::write_file_atomic(out, *pdf, wo); !w.ok()) return fail(w.err().to_string());
  std::printf("%s: card %s, %zu bytes\n", out.c_str(), in.card_id.c_str(), pdf->size());
  return 0;
}

}  // namespace idphoto::cli
