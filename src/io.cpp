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

/// Throws unless `path` is absent or a regular file.
void check_regular_or_absent(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISREG(st.st_mode))
    throw Error("'" + path + "' is " + kind_of(st.st_mode) +
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

void check_output_file(const std::string& path, std::span<const std::string> inputs) {
  if (path.empty()) throw Error("the output path is empty");
  const std::filesystem::path p(path);
  if (!p.has_filename() || p.filename() == "." || p.filename() == "..")
    throw Error("'" + path + "' does not name a file");
  check_regular_or_absent(path);
  struct stat out;
  if (::stat(path.c_str(), &out) == 0)
    for (const std::string& input : inputs) {
      struct stat in;
      if (::stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
        throw Error("'" + path + "' is the input file '" + input +
                    "'; writing there would destroy it");
    }
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error("folder '" + dir.string() + "' does not exist (for '" + path + "')");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("cannot write in folder '" + dir.string() + "': " + std::strerror(errno));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  check_regular_or_absent(path);
  const std::filesystem::path target(path);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string temp = temp_path(path, ::getpid());
  remove_stale_temporaries(path);  // left by earlier writers killed mid-write
  auto fail = [&](const char* what, int err) {
    ::unlink(temp.c_str());
    throw Error(std::string("cannot write '") + path + "': " + what + ": " + std::strerror(err));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw Error("cannot write '" + path + "': creating '" + temp + "': " + std::strerror(err));
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
