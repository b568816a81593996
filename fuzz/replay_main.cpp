// The replay driver: the fuzz target's entry function, compiled as a plain function (any
// compiler, no libFuzzer), run once over every file of the directories given. make test runs it
// over fuzz/corpus/<target> (the seeds) and fuzz/regressions/<target> (every crash the fuzzer
// found, kept once fixed). A crash or a failed FUZZ_CHECK aborts with the file's name printed
// first; an empty or missing corpus directory fails, so the test cannot pass by running nothing.
//   fuzz_replay_<target> CORPUS_DIR [REGRESSIONS_DIR]   (a missing REGRESSIONS_DIR is no input)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "base/read_file.hpp"
#include "fuzz_target.hpp"

// Targets that need no set-up do not define it; libFuzzer treats it as weak the same way.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

// Far above any -max_len in fuzz/CMakeLists.txt: a committed input is never cut.
constexpr int64_t k_max_input_bytes = int64_t{64} << 20;

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [REGRESSIONS_DIR]\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs = files_in(argv[1]);
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no seed files in %s\n", argv[1]);
    return 1;
  }
  const size_t n_seeds = inputs.size();
  if (argc == 3 && fs::is_directory(argv[2])) {
    auto more = files_in(argv[2]);
    inputs.insert(inputs.end(), more.begin(), more.end());
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (const auto& p : inputs) {
    auto bytes = idphoto::base::read_file(p.string(), k_max_input_bytes);
    if (!bytes.ok()) {
      std::fprintf(stderr, "replay: cannot read %s: %s\n", p.c_str(), bytes.err().detail.c_str());
      return 1;
    }
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", p.c_str(), bytes->size());
    std::fflush(stderr);
    LLVMFuzzerTestOneInput(bytes->data(), bytes->size());
  }
  std::fprintf(stderr, "replay: %zu seeds and %zu regression inputs ran\n", n_seeds, inputs.size() - n_seeds);
  return 0;
}
