// `idphoto models`: the known models, their files and whether their sha256 matches.
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/unique_handle.hpp"
#include "cli/args.hpp"
#include "cli/models_dir.hpp"
#include "pipeline/model_spec.hpp"

namespace idphoto::cli {

namespace {

using evp_md_ctx_ptr = base::unique_handle<EVP_MD_CTX, EVP_MD_CTX_free>;

// Hex sha256 of a file; empty when it cannot be read.
std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return "";
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(f.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return "";
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

}  // namespace

int cmd_models(const std::vector<std::string>& argv) {
  auto a = parse_args(argv, {"--models-dir"}, {"--help"});
  if (!a.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", a.err().detail.c_str());
    return 2;
  }
  if (a->has("--help")) {
    std::puts("usage: idphoto models [--models-dir DIR]\nLists the known models, their files and sha256 state.");
    return 0;
  }
  const std::string dir = find_models_dir(a->get("--models-dir"));
  std::printf("models directory: %s\n", dir.c_str());
  int bad = 0;
  for (const auto& m : pipeline::known_models()) {
    const std::string path = dir + "/" + m.file;
    std::string state;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      state = "missing (run scripts/fetch-models)";
      ++bad;
    } else {
      const std::string got = sha256_file(path);
      state = got == m.sha256 ? "sha256 ok" : "sha256 MISMATCH (" + got + ")";
      if (got != m.sha256) ++bad;
    }
    std::printf("%-20s %-28s %dpx  %s\n    %s\n", m.name.c_str(), m.file.c_str(), m.native_size_px, state.c_str(),
                m.note.c_str());
  }
  return bad ? 1 : 0;
}

}  // namespace idphoto::cli
