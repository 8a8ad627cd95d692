#include "dptrain/io.hpp"

#include <sys/stat.h>
#include <sys/statfs.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dptrain/error.hpp"

namespace dptrain {

std::string read_file(const std::string& path, std::string_view what) {
  const std::string name = (what.empty() ? "" : std::string(what) + " ") + "'" + path + "'";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read " + name + ": it is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + name + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error("cannot read " + name + ": " + std::strerror(errno));
  return std::move(buffer).str();
}

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

/// "'out.csv'", or for a link "'out.csv' (a symbolic link to 'data/real.csv')": how messages
/// name an output, so that a user who typed the link sees where the output really goes.
std::string describe(const std::string& path, const std::string& target) {
  if (target == path) return "'" + path + "'";
  return "'" + path + "' (a symbolic link to '" + target + "')";
}

/// Throws unless `target` (the file `path` writes, see output_target) is absent or a regular
/// file.
void check_regular_or_absent(const std::string& path, const std::string& target) {
  struct stat st;
  // stat() on the path as given follows the kernel's own "magic" links too (/dev/stdout ->
  // /proc/self/fd/1 -> "pipe:[123]", whose text names no file): a pipe or terminal shows here.
  if (::stat(path.c_str(), &st) != 0 && ::lstat(target.c_str(), &st) != 0) return;
  if (!S_ISREG(st.st_mode))
    throw Error(describe(path, target) + " is " + kind_of(st.st_mode) +
                "; dptrain writes its output only to a regular file (or a new one)");
}

// Note [Descriptor paths]. /proc/<pid>/fd/N (and /proc/<pid>/task/<tid>/fd/N) is a "magic" link
// that stands for an open file description, not for a name: /dev/fd/N, /dev/stdout, //proc/self/
// fd/N, /./proc/self/fd/N and any link to them lead there, and its text is the file that
// descriptor has open ("/work/keep.txt", or "pipe:[123]" naming no file). Replacing that file
// (rename over it) would cut it from the descriptor writing it: `3>>keep.txt` would lose its
// bytes. So the decision is made on what each step of the path resolves to, never on its
// spelling: a path whose folder resolves (realpath) to a folder named "fd" on procfs is refused,
// and so is a link whose text names no file (pipe:, socket:, anon_inode:).

/// True when `folder` resolves to a descriptor folder: /proc/<pid>/fd, /proc/<pid>/task/<tid>/fd
/// (a folder named "fd" on procfs, wherever procfs is mounted).
bool is_descriptor_folder(const std::filesystem::path& folder) {
  char resolved[PATH_MAX];
  if (::realpath(folder.empty() ? "." : folder.c_str(), resolved) == nullptr) return false;
  struct statfs fs;
  constexpr long kProcSuperMagic = 0x9fa0;  // PROC_SUPER_MAGIC, <linux/magic.h>
  return std::filesystem::path(resolved).filename() == "fd" && ::statfs(resolved, &fs) == 0 &&
         static_cast<long>(fs.f_type) == kProcSuperMagic;
}

/// True for the text of a magic link that names no file: "pipe:[123]", "socket:[45]",
/// "anon_inode:[eventfd]".
bool names_no_file(std::string_view link_text) {
  return link_text.starts_with("pipe:") || link_text.starts_with("socket:") ||
         link_text.starts_with("anon_inode:");
}

/// Throws for `step` (one hop of `path` on its way to its target) when it goes through an open
/// file descriptor (Note [Descriptor paths]).
void refuse_descriptor(const std::string& path, const std::filesystem::path& step) {
  if (is_descriptor_folder(step.parent_path()))
    throw Error("'" + path + "' leads to an open file descriptor ('" + step.string() +
                "'), not to a file dptrain can replace");
}

/// The lowest descriptor of this process that has `st`'s file open, or -1 (also when
/// /proc/self/fd cannot be read).
int open_descriptor_of(const struct stat& st) {
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return -1;
  int found = -1;
  while (const dirent* e = ::readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    struct stat open;
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(fds)) continue;
    if (::fstat(int(fd), &open) == 0 && open.st_dev == st.st_dev && open.st_ino == st.st_ino &&
        (found < 0 || fd < found))
      found = int(fd);
  }
  ::closedir(fds);
  return found;
}

/// Throws unless the existing file at `target` may be replaced: not write-protected (no write
/// permission for this process, or no write bit at all, which root's access() would ignore), and
/// not a file this process has open (a shell redirection such as `3>>keep.txt`: replacing it
/// would cut it from that descriptor, Note [Descriptor paths]). An absent target passes.
void check_replaceable(const std::string& path, const std::string& target) {
  struct stat st;
  if (::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  if ((st.st_mode & 0222) == 0 || ::access(target.c_str(), W_OK) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    throw Error(describe(path, target) + " is write-protected (mode " + mode +
                "); dptrain does not replace it (make it writable, or name another file)");
  }
  if (const int fd = open_descriptor_of(st); fd >= 0)
    throw Error(describe(path, target) + " is open in this process (file descriptor " +
                std::to_string(fd) + ", e.g. a shell redirection); replacing it would cut it " +
                "from that descriptor");
}

/// "<name>.tmp." followed by the pid of the process that wrote it: write_file_atomically's own
/// temporary files for `name`, and nothing else.
constexpr std::string_view kTempInfix = ".tmp.";

std::string temp_path(const std::string& path, pid_t pid) {
  return path + std::string(kTempInfix) + std::to_string(pid);
}

/// The pid in `entry` when it is "<name>.tmp.<pid>" (digits only), else 0.
pid_t temp_owner(std::string_view entry, std::string_view name) {
  if (!entry.starts_with(name) || !entry.substr(name.size()).starts_with(kTempInfix)) return 0;
  const std::string_view digits = entry.substr(name.size() + kTempInfix.size());
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (digits.empty() || digits[0] == '0' || ec != std::errc() ||
      end != digits.data() + digits.size() || pid <= 0)
    return 0;
  return pid;
}

}  // namespace

std::size_t remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
  const std::string name = target.filename().string();
  std::size_t removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    const pid_t pid = temp_owner(it->path().filename().string(), name);
    // A live pid (even one reused by an unrelated process) keeps its file: never remove what a
    // running writer may still rename. EPERM means alive too.
    if (pid == 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

std::string output_target(const std::string& path) {
  // Followed by hand rather than with canonical(): a dangling link (a new file through a link)
  // is a valid output, and the other components of the path stay as the user wrote them.
  std::filesystem::path p(path);
  for (int hops = 0; hops < 40; ++hops) {
    // Each hop's folder, resolved: /dev/fd/3, //proc/self/fd/3 or a link to them all end in a
    // descriptor folder, however spelt (Note [Descriptor paths]).
    refuse_descriptor(path, p);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    const std::filesystem::path next = std::filesystem::read_symlink(p, ec);
    if (ec) throw Error("cannot read symbolic link '" + p.string() + "': " + ec.message());
    if (names_no_file(next.native()))
      throw Error("'" + path + "' leads to an open file descriptor ('" + p.string() + "' is '" +
                  next.string() + "'), not to a file dptrain can replace");
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  throw Error("'" + path + "' is a loop of symbolic links");
}

void check_output_file(const std::string& path, std::span<const std::string> inputs) {
  if (path.empty()) throw Error("the output path is empty");
  const std::filesystem::path p(path);
  if (!p.has_filename() || p.filename() == "." || p.filename() == "..")
    throw Error("'" + path + "' does not name a file");
  const std::string target = output_target(path);
  check_regular_or_absent(path, target);
  check_replaceable(path, target);
  struct stat out;
  if (::stat(target.c_str(), &out) == 0)
    for (const std::string& input : inputs) {
      struct stat in;
      if (::stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
        throw Error(describe(path, target) + " is the input file '" + input +
                    "'; writing there would destroy it");
    }
  const std::filesystem::path t(target);
  const std::filesystem::path dir = t.has_parent_path() ? t.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error("folder '" + dir.string() + "' does not exist (for " + describe(path, target) +
                ")");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("cannot write in folder '" + dir.string() + "' (for " + describe(path, target) +
                "): " + std::strerror(errno));
}

bool same_output(const std::string& a, const std::string& b) {
  const std::string ta = output_target(a), tb = output_target(b);
  struct stat sa, sb;
  if (::stat(ta.c_str(), &sa) == 0 && ::stat(tb.c_str(), &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;  // hard links too
  // Not both there yet: the same name once the folders are resolved (./x, dir/../x, a link).
  std::error_code ea, eb;
  const auto ca = std::filesystem::weakly_canonical(ta, ea);
  const auto cb = std::filesystem::weakly_canonical(tb, eb);
  return !ea && !eb && ca == cb;
}

void write_file_atomically(const std::string& requested, std::string_view bytes) {
  // Through a symbolic link, the link's target is replaced and the link stays a link.
  const std::string path = output_target(requested);
  check_regular_or_absent(requested, path);
  check_replaceable(requested, path);
  struct stat old;  // the file replaced: the new one keeps its permission bits (and owner)
  const bool replacing = ::stat(path.c_str(), &old) == 0;
  const std::filesystem::path target(path);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string temp = temp_path(path, ::getpid());
  remove_stale_temporaries(path);  // left by earlier writers killed mid-write
  auto fail = [&](const char* what, int err) {
    ::unlink(temp.c_str());
    throw Error("cannot write " + describe(requested, path) + ": " + what + ": " +
                std::strerror(err));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw Error("cannot write " + describe(requested, path) + ": creating '" + temp +
                "': " + std::strerror(err));
  }
  if (replacing) {
    // Owner first (which clears set-id bits), best effort: only root may give a file away.
    [[maybe_unused]] const int owned = ::fchown(fd, old.st_uid, old.st_gid);
    if (::fchmod(fd, old.st_mode & 0777) != 0) {
      const int err = errno;
      ::close(fd);
      fail("keeping the mode of the file replaced", err);
    }
  }
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      fail("writing", err);
    }
    p += n;
    left -= std::size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync", err);
  }
  if (::close(fd) != 0) fail("closing", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("renaming the temporary file", errno);
  // Make the rename itself durable.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace dptrain
