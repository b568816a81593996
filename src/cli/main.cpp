// idphoto: the command-line entry point; dispatches to subcommands.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace idphoto::cli {
int cmd_infer(const std::vector<std::string>& argv);
int cmd_clean(const std::vector<std::string>& argv);
int cmd_models(const std::vector<std::string>& argv);
int cmd_serve(const std::vector<std::string>& argv);
int cmd_token(const std::vector<std::string>& argv);
int cmd_card(const std::vector<std::string>& argv);
int cmd_sheet(const std::vector<std::string>& argv);
int cmd_batch(const std::vector<std::string>& argv);
int cmd_faces(const std::vector<std::string>& argv);
}  // namespace idphoto::cli

namespace {
void usage(FILE* f) {
  std::fprintf(
      f,
      "usage: idphoto <command> [options]\n"
      "commands:\n"
      "  clean    photos in, ID-ready images out (see idphoto clean --help)\n"
      "  batch    a roster CSV and a folder or ZIP of photos in, one cleaned photo per row\n"
      "           and export.csv out (see idphoto batch --help)\n"
      "  models   list the known models and check their files\n"
      "  infer    run an ONNX model on a raw float32 tensor (see idphoto infer --help)\n"
      "  serve    the HTTP service: upload or URL, clean, store, record (see idphoto serve --help)\n"
      "  token    mint a bearer token with JWT_SECRET (see idphoto token --help)\n"
      "  card     an ID card as a PDF from a name and a photo (see idphoto card --help)\n"
      "  sheet    framed ID photos at their printed size on 4x6in/A4/A6 with crop marks (see idphoto sheet --help)\n"
      "  faces    faces and landmarks in photos as JSON (see idphoto faces --help)\n"
      "  --version\n");
}
}  // namespace

// OpenMP (used by oneDNN) busy-waits between parallel regions by default. When another
// process holds one of the cores, that makes 2 threads slower than 1 (measured: ISNet
// at 1024, ~4 s instead of ~1.9 s); passive waiting costs ~5% on an idle machine.
// libgomp reads the policy when it loads, before main, so we set it and re-exec once.
// A user's own OMP_WAIT_POLICY is respected.
void ensure_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}

int main(int argc, char** argv) {
  ensure_passive_omp_wait(argv);
  // Buffers of 1 MiB and more (image planes, masks, tensors) come from mmap and go back
  // to the kernel when freed. glibc would otherwise raise this threshold after the first
  // large free and keep later photo-sized buffers on the heap, so RSS would ratchet up.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "--version" || cmd == "version") {
    std::printf("idphoto %s\n", IDPHOTO_VERSION);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "infer") return idphoto::cli::cmd_infer(rest);
  if (cmd == "clean") return idphoto::cli::cmd_clean(rest);
  if (cmd == "batch") return idphoto::cli::cmd_batch(rest);
  if (cmd == "models") return idphoto::cli::cmd_models(rest);
  if (cmd == "serve") return idphoto::cli::cmd_serve(rest);
  if (cmd == "token") return idphoto::cli::cmd_token(rest);
  if (cmd == "card") return idphoto::cli::cmd_card(rest);
  if (cmd == "sheet") return idphoto::cli::cmd_sheet(rest);
  if (cmd == "faces") return idphoto::cli::cmd_faces(rest);
  std::fprintf(stderr, "idphoto: error: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}
