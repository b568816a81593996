// What the CLI tests share: running the idphoto binary (stdout/stderr captured, a timeout),
// reading its outputs, and the astronaut photo of Debian's python3-skimage (NASA, public
// domain) as the person photo.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/image.hpp"
#include "image/probe.hpp"

namespace clitest {

namespace fs = std::filesystem;
namespace img = idphoto::image;

inline const char* const k_astronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
inline const std::string k_fast = "384";  // --model-size for runs that are not about quality

// $IDPHOTO_EXE or the binary CMake built.
std::string exe();
// $IDPHOTO_MODELS_DIR when set (as the binary reads it), else the repository's models/.
std::string models_dir();

// A fresh, empty temp dir for the running test: <tmp>/<prefix>-<test name>-<pid>.
fs::path fresh_test_dir(const std::string& prefix);
// Removes dir when the running test passed; keeps it, and says where, when it failed.
void remove_unless_failed(const fs::path& dir);

struct run_result {
  int code = -1;  // exit status; 128 + signal when killed; -1 on timeout
  std::string out, err;
};

std::string slurp(const fs::path& p);
// Runs the binary with args; stdin from `in` (or /dev/null); stdout and stderr captured.
// A run over timeout_s is killed and reported (code -1): a hang fails, it never blocks.
run_result run(const std::vector<std::string>& args, const fs::path& work, const fs::path& in = {},
               int timeout_s = 600);
std::vector<std::string> lines(const std::string& s);
std::string shown(const run_result& r);
// Files in a directory (names), including hidden ones (temp files start with '.').
std::vector<std::string> listing(const fs::path& d);

img::image wrap(VipsImage* v);
// The astronaut photo (512 x 512 sRGB), in memory; fails the test when missing.
img::image astronaut();
img::image shrink_to(const img::image& im, int w);
// A photo-like PNG of a person (the astronaut at 256 px) for runs that are not about quality.
gen::bytes small_person_png();

struct decoded {
  img::image_info info;
  img::pixel_buffer px;
};

// Probes and decodes an output file fully; fails the test when it is not an image.
decoded decode_output(const gen::bytes& b);

}  // namespace clitest
