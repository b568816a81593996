// The CLI tests' shared helpers (cli_run.hpp).
#include "cli/cli_run.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

extern char** environ;

namespace clitest {

std::string exe() {
  const char* e = std::getenv("IDPHOTO_EXE");
  return e && *e ? e : IDPHOTO_EXE;
}
// $IDPHOTO_MODELS_DIR when set (as the binary reads it), else the repository's models/.
std::string models_dir() {
  const char* e = std::getenv("IDPHOTO_MODELS_DIR");
  return e && *e ? e : std::string(IDPHOTO_SOURCE_DIR) + "/models";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs the binary with args; stdin from `in` (or /dev/null); stdout and stderr captured.
// A run over timeout_s is killed and reported (code -1): a hang fails, it never blocks.
run_result run(const std::vector<std::string>& args, const fs::path& work, const fs::path& in, int timeout_s) {
  static int counter = 0;
  const fs::path out_path = work / (".stdout-" + std::to_string(counter)),
                 err_path = work / (".stderr-" + std::to_string(counter));
  ++counter;
  std::vector<std::string> argv_s = {exe()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  run_result r;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = "posix_spawn failed: " + std::string(std::strerror(rc));
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "timed out after " << timeout_s << " s";
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (status != -1) r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  size_t at = 0;
  while (at < s.size()) {
    size_t nl = s.find('\n', at);
    if (nl == std::string::npos) nl = s.size();
    if (nl > at) v.push_back(s.substr(at, nl - at));
    at = nl + 1;
  }
  return v;
}

std::string shown(const run_result& r) {
  return "exit " + std::to_string(r.code) + "\nstderr:\n" + r.err + "stdout:\n" + r.out.substr(0, 2000);
}

// Files in a directory (names), including hidden ones (temp files start with '.').
std::vector<std::string> listing(const fs::path& d) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

// ---- images

fs::path fresh_test_dir(const std::string& prefix) {
  const fs::path dir =
      fs::temp_directory_path() / (prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                                   "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void remove_unless_failed(const fs::path& dir) {
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
  else std::fprintf(stderr, "kept %s for inspection\n", dir.c_str());
}

img::image wrap(VipsImage* v) { return img::image{img::vips_image_ptr(v)}; }

// The astronaut photo (512 x 512 sRGB), in memory; aborts the test when missing.
img::image astronaut() {
  VipsImage* v = vips_image_new_from_file(k_astronaut, nullptr);
  if (!v) {
    ADD_FAILURE() << k_astronaut << " missing (Debian package python3-skimage): " << vips_error_buffer();
    vips_error_clear();
    return {};
  }
  VipsImage* m = vips_image_copy_memory(v);
  g_object_unref(v);
  return wrap(m);
}

img::image shrink_to(const img::image& im, int w) {
  VipsImage* out = nullptr;
  EXPECT_EQ(vips_resize(im.v.get(), &out, double(w) / im.width(), nullptr), 0) << vips_error_buffer();
  return wrap(out);
}

// A photo-like JPEG / PNG of a person (the astronaut at 256 px) for runs that are not about quality.
gen::bytes small_person_png() { return gen::save(shrink_to(astronaut(), 256), ".png"); }

// Probes and decodes an output file fully; fails the test when it is not an image.
decoded decode_output(const gen::bytes& b) {
  decoded d;
  auto info = img::probe(b);
  EXPECT_TRUE(info.ok()) << info.err().to_string();
  if (!info.ok()) return d;
  d.info = *info;
  img::decode_options o;
  o.max_width = o.max_height = 0;
  auto im = img::decode(b, o);
  EXPECT_TRUE(im.ok()) << im.err().to_string();
  if (!im.ok()) return d;
  auto px = img::to_pixels(*im);
  EXPECT_TRUE(px.ok()) << px.err().to_string();
  if (px.ok()) d.px = std::move(*px);
  return d;
}

}  // namespace clitest
