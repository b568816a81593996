// idphoto: the command-line entry point; dispatches to subcommands.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace idphoto::cli {
int cmd_infer(const std::vector<std::string>& argv);
}

namespace {
void usage(FILE* f) {
  std::fprintf(f,
               "usage: idphoto <command> [options]\n"
               "commands:\n"
               "  infer    run an ONNX model on a raw float32 tensor (see idphoto infer --help)\n"
               "  --version\n");
}
}  // namespace

int main(int argc, char** argv) {
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
  std::fprintf(stderr, "idphoto: error: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}
