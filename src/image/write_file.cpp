// Step 8b: write bytes to a file atomically (temp file, fsync, rename, fsync dir),
// refusing to replace any of the run's input files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "image/encode.hpp"

namespace idphoto::image {

using base::errc;
namespace fs = std::filesystem;

namespace {

base::error os_error(const std::string& what, int err) {
  return base::make_error(errc::io, what + ": " + std::strerror(err));
}

// Whether dest names one of the protected paths (same file, or same normalised path).
bool is_protected(const fs::path& dest, const std::vector<fs::path>& protected_paths) {
  std::error_code ec;
  const fs::path dest_norm = fs::weakly_canonical(fs::absolute(dest, ec), ec);
  const bool dest_exists = fs::exists(dest, ec);
  for (const auto& p : protected_paths) {
    std::error_code ec2;
    if (dest_exists && fs::exists(p, ec2) && fs::equivalent(dest, p, ec2) && !ec2) return true;
    std::error_code ec3;
    const fs::path p_norm = fs::weakly_canonical(fs::absolute(p, ec3), ec3);
    if (!ec && !ec3 && p_norm == dest_norm) return true;
  }
  return false;
}

// Removes the temp file unless released (the file was renamed into place).
struct temp_file {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~temp_file() {
    if (fd >= 0) ::close(fd);
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

base::result<void> write_file_atomic(const fs::path& dest, std::span<const uint8_t> bytes, const write_options& opts) {
  if (dest.empty() || !dest.has_filename()) {
    return base::make_error(errc::invalid_argument, "write_file_atomic: bad destination '" + dest.string() + "'");
  }
  if (is_protected(dest, opts.protected_paths)) {
    return base::make_error(errc::invalid_argument, "refusing to overwrite input file " + dest.string());
  }
  std::error_code ec;
  if (!opts.overwrite && fs::symlink_status(dest, ec).type() != fs::file_type::not_found && !ec) {
    return base::make_error(errc::invalid_argument, dest.string() + " exists (overwrite is off)");
  }

  const fs::path dir = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  std::string name = dest.filename().string();
  if (name.size() > 200) name.resize(200);  // keep the temp name under NAME_MAX
  temp_file tmp;
  tmp.path = (dir / ("." + name + ".tmp-XXXXXX")).string();
  tmp.fd = ::mkostemp(tmp.path.data(), O_CLOEXEC);
  if (tmp.fd < 0) {
    int err = errno;
    tmp.path.clear();  // nothing was created
    return os_error("cannot create a temporary file in " + dir.string(), err);
  }

  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(tmp.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("write " + tmp.path, errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(tmp.fd, static_cast<mode_t>(opts.mode & 07777)) != 0) return os_error("chmod " + tmp.path, errno);
  if (::fsync(tmp.fd) != 0) return os_error("fsync " + tmp.path, errno);
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) return os_error("close " + tmp.path, errno);

  if (opts.overwrite) {
    if (::rename(tmp.path.c_str(), dest.c_str()) != 0) return os_error("rename to " + dest.string(), errno);
  } else {
    // link() fails with EEXIST instead of replacing: no clobbering even in a race.
    if (::link(tmp.path.c_str(), dest.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return base::make_error(errc::invalid_argument, dest.string() + " exists (overwrite is off)");
      return os_error("link to " + dest.string(), err);
    }
    // tmp's destructor unlinks the temp name; dest keeps the data.
  }
  if (opts.overwrite) tmp.keep = true;  // renamed: the temp name no longer exists

  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return os_error("open directory " + dir.string(), errno);
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL) return os_error("fsync directory " + dir.string(), err);
  return {};
}

}  // namespace idphoto::image
