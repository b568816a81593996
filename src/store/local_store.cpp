// The local-directory blob store: one file per key under dir/<folder>/, written atomically.
// Also local_file_path (for the /files/ route) and the startup clean-ups: sweep_temp_files and
// the orphan sweep (local_store::sweep_orphans).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "store/blob_store.hpp"
#include "store/store_key.hpp"

namespace idphoto::store {

namespace {

namespace fs = std::filesystem;
using base::errc;
using base::make_error;

constexpr const char* k_folders[] = {"raw", "clean", "card"};
constexpr std::string_view k_temp_prefix = ".tmp-";

std::string errno_text(int e) { return std::strerror(e); }

struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};
using dir_ptr = std::unique_ptr<DIR, dir_closer>;

// A file descriptor closed on every path (the fd analogue of a unique_ptr with a deleter).
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s errno (0 on success): a write error can surface here.
  int close_now() {
    int fd = std::exchange(fd_, -1);
    if (fd < 0) return 0;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Unlinks a path when it goes out of scope unless release() was called: every error path of
// put() leaves no temp file behind.
class unlink_guard {
 public:
  explicit unlink_guard(std::string path) : path_(std::move(path)) {}
  unlink_guard(const unlink_guard&) = delete;
  unlink_guard& operator=(const unlink_guard&) = delete;
  ~unlink_guard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

bool write_all(int fd, std::string_view bytes, int* err) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int fsync_dir(const std::string& dir) {
  unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0) return errno;
  if (::fsync(d.get()) != 0) return errno;
  return d.close_now();
}

// Moves tmp to final without ever replacing an existing final file: renameat2(NOREPLACE),
// or link+unlink on file systems that do not support the flag. Returns errno or 0.
int rename_no_replace(const std::string& tmp, const std::string& final_path) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(tmp.c_str(), final_path.c_str()) != 0) return errno;
  ::unlink(tmp.c_str());
  return 0;
}

// Creates and removes a probe file in dir; returns errno or 0.
int probe_writable(const std::string& dir) {
  auto hex = detail::random_hex_128();
  if (!hex.ok()) return EIO;
  std::string probe = dir + "/" + std::string(k_temp_prefix) + "probe-" + *hex;
  unique_fd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return errno;
  int e = fd.close_now();
  if (::unlink(probe.c_str()) != 0 && e == 0) e = errno;
  return e;
}

// true when path is a regular file (lstat: a symlink is not one), with its stat in *st.
bool regular_file(const std::string& path, struct stat* st) {
  return ::lstat(path.c_str(), st) == 0 && S_ISREG(st->st_mode);
}

// Calls fn(folder, name, path) for every entry of dir/{raw,clean,card} (dir absolute). A missing
// folder is skipped; io naming `what` when one exists but cannot be listed.
template <class Fn>
base::result<void> for_each_entry(const std::string& dir, const char* what, Fn fn) {
  for (const char* f : k_folders) {
    const std::string d = dir + "/" + f;
    dir_ptr dh(::opendir(d.c_str()));
    if (!dh) {
      if (errno == ENOENT) continue;
      return make_error(errc::io, std::string(what) + ": cannot list " + d + ": " + errno_text(errno));
    }
    while (dirent* ent = ::readdir(dh.get())) {
      const std::string name(ent->d_name);
      fn(f, name, d + "/" + name);
    }
  }
  return {};
}

base::result<std::string> absolute_dir(const std::string& dir) {
  if (dir.empty()) return make_error(errc::invalid_argument, "local store: dir is empty");
  if (dir.find('\0') != std::string::npos) return make_error(errc::invalid_argument, "local store: dir contains NUL");
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(dir), ec);
  if (ec) return make_error(errc::io, "local store: cannot resolve '" + dir + "': " + ec.message());
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

class local_store final : public blob_store {
 public:
  local_store(std::string dir, std::string base_url) : dir_(std::move(dir)), base_url_(std::move(base_url)) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }

  /*
   * Atomic, durable put: write the bytes to a uniquely named temp file (".tmp-<random>") in the
   * destination folder, fsync it, rename it to the final name (refusing to replace anything),
   * then fsync the folder so the rename itself survives a crash. A reader therefore sees either
   * no file or the whole file under a final name. The temp file is unlinked on every error
   * path; a process killed mid-put leaves only a ".tmp-" file, which sweep_temp_files removes.
   */
  base::result<stored> put(std::string_view bytes, const std::string& content_type, const std::string& folder,
                           const std::string& name) override {
    IDPHOTO_TRY(detail::check_folder(folder));
    auto ext = detail::ext_for_content_type(content_type);
    if (!ext.ok()) return ext.err();
    if (bytes.empty()) return make_error(errc::invalid_argument, "local store: empty body");
    auto id = detail::name_or_random(name);
    if (!id.ok()) return id.err();
    auto tmp_id = detail::random_hex_128();
    if (!tmp_id.ok()) return tmp_id.err();

    const std::string folder_dir = dir_ + "/" + folder;
    const std::string key = folder + "/" + *id + "." + *ext;
    const std::string final_path = dir_ + "/" + key;
    const std::string tmp_path = folder_dir + "/" + std::string(k_temp_prefix) + *tmp_id;

    unique_fd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (fd.get() < 0)
      return make_error(errc::io, "local store: cannot create temp file in " + folder_dir + ": " + errno_text(errno));
    unlink_guard tmp_guard(tmp_path);
    int e = 0;
    if (!write_all(fd.get(), bytes, &e))
      return make_error(errc::io, "local store: write " + tmp_path + ": " + errno_text(e));
    if (::fsync(fd.get()) != 0)
      return make_error(errc::io, "local store: fsync " + tmp_path + ": " + errno_text(errno));
    if ((e = fd.close_now()) != 0) return make_error(errc::io, "local store: close " + tmp_path + ": " + errno_text(e));
    // A random name never replaces a file; a chosen one (a job's output) does, by design.
    if ((e = name.empty() ? rename_no_replace(tmp_path, final_path)
                          : (::rename(tmp_path.c_str(), final_path.c_str()) == 0 ? 0 : errno)) != 0) {
      if (e == EEXIST) return make_error(errc::conflict, "local store: key already exists: " + key);
      return make_error(errc::io, "local store: rename to " + final_path + ": " + errno_text(e));
    }
    tmp_guard.release();
    if ((e = fsync_dir(folder_dir)) != 0) {
      // The bytes are complete but not known durable; the caller never learns this key, so
      // remove the file rather than leave an orphan.
      ::unlink(final_path.c_str());
      return make_error(errc::io, "local store: fsync dir " + folder_dir + ": " + errno_text(e));
    }
    return stored{key, base_url_ + "/files/" + key};
  }

  base::result<std::string> get(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    const std::string path = dir_ + "/" + key;
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
      if (errno == ENOENT) return make_error(errc::not_found, "local store: no " + key);
      return make_error(errc::io, "local store: open " + path + ": " + errno_text(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return make_error(errc::io, "local store: stat " + path + ": " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) return make_error(errc::not_found, "local store: not a file: " + key);
    std::string out;
    out.reserve(static_cast<std::size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return make_error(errc::io, "local store: read " + path + ": " + errno_text(errno));
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  base::result<void> remove(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    const std::string path = dir_ + "/" + key;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return make_error(errc::io, "local store: unlink " + path + ": " + errno_text(errno));
    return {};
  }

  base::result<bool> exists(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    const std::string path = dir_ + "/" + key;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return false;
      return make_error(errc::io, "local store: stat " + path + ": " + errno_text(errno));
    }
    return S_ISREG(st.st_mode);
  }

  base::result<void> ping() override {
    for (const char* f : k_folders) {
      const std::string d = dir_ + "/" + f;
      if (int e = probe_writable(d); e != 0)
        return make_error(errc::unavailable, "local store: " + d + " not writable: " + errno_text(e));
    }
    return {};
  }

  std::string backend_name() const override { return "local"; }

  // Walks the folders: a name that is a key (temp files and strays are not) is kept when
  // referenced or younger than min_age_s by its mtime (set when put wrote it), else unlinked.
  base::result<sweep_report> sweep_orphans(const std::set<std::string>& referenced, int min_age_s) override {
    if (min_age_s < 0) return make_error(errc::invalid_argument, "sweep_orphans: min_age_s must be 0 or more");
    sweep_report rep;
    const std::time_t now = std::time(nullptr);
    auto walked = for_each_entry(
        dir_, "sweep_orphans", [&](const char* folder, const std::string& name, const std::string& path) {
          const std::string key = std::string(folder) + "/" + name;
          struct stat st {};
          if (!detail::parse_key(key).ok() || !regular_file(path, &st)) return;
          if (referenced.count(key) || now - st.st_mtime < min_age_s || ::unlink(path.c_str()) != 0) ++rep.kept;
          else ++rep.removed;
        });
    if (!walked.ok()) return walked.err();
    return rep;
  }

 private:
  std::string dir_;       // absolute, no trailing '/'
  std::string base_url_;  // no trailing '/'
};

}  // namespace

base::result<std::unique_ptr<blob_store>> make_local_store(const local_config& c) {
  auto dir = absolute_dir(c.dir);
  if (!dir.ok()) return dir.err();
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) return make_error(errc::io, "local store: cannot create " + *dir + ": " + ec.message());
  for (const char* f : k_folders) {
    const std::string d = *dir + "/" + f;
    fs::create_directory(d, ec);
    if (ec) return make_error(errc::io, "local store: cannot create " + d + ": " + ec.message());
    if (int e = probe_writable(d); e != 0)
      return make_error(errc::io, "local store: " + d + " not writable: " + errno_text(e));
  }
  return std::unique_ptr<blob_store>(new local_store(*dir, c.public_base_url));
}

base::result<std::string> local_file_path(const local_config& c, const std::string& key) {
  auto parts = detail::parse_key(key);
  if (!parts.ok()) return parts.err();
  auto dir = absolute_dir(c.dir);
  if (!dir.ok()) return dir.err();
  std::string path = *dir + "/" + key;
  struct stat st {};
  if (!regular_file(path, &st)) return make_error(errc::not_found, "local store: no " + key);
  return path;
}

base::result<std::size_t> sweep_temp_files(const std::string& dir, int min_age_s) {
  auto abs = absolute_dir(dir);
  if (!abs.ok()) return abs.err();
  std::size_t removed = 0;
  const std::time_t now = std::time(nullptr);
  auto walked = for_each_entry(*abs, "sweep", [&](const char*, const std::string& name, const std::string& path) {
    if (name.compare(0, k_temp_prefix.size(), k_temp_prefix) != 0) return;
    struct stat st {};
    if (!regular_file(path, &st) || now - st.st_mtime < min_age_s) return;
    if (::unlink(path.c_str()) == 0) ++removed;
  });
  if (!walked.ok()) return walked.err();
  return removed;
}

}  // namespace idphoto::store
