#include "dptrain/io.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
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
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    // /proc/<pid>/fd/N (behind /dev/stdout, /dev/fd/N) stands for an open file, not a name:
    // replacing whatever it points at would cut the file from the descriptor writing it.
    const std::string text = p.string();
    if (text.starts_with("/proc/") && text.find("/fd/") != std::string::npos)
      throw Error("'" + path + "' leads to an open file descriptor ('" + text +
                  "'), not to a file dptrain can replace");
    std::error_code ec;
    const std::filesystem::path next = std::filesystem::read_symlink(p, ec);
    if (ec) throw Error("cannot read symbolic link '" + p.string() + "': " + ec.message());
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

void write_file_atomically(const std::string& requested, std::string_view bytes) {
  // Through a symbolic link, the link's target is replaced and the link stays a link.
  const std::string path = output_target(requested);
  check_regular_or_absent(requested, path);
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
