// File input and output: read_file's bytes and errors, atomic writes, and which output paths
// are refused (devices, open descriptors however spelt, write-protected files).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"

namespace dptrain {
namespace {

using namespace std::string_literals;

std::string read_error(const std::string& path, std::string_view what = {}) {
  try {
    read_file(path, what);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ReadFile, ReturnsEveryByteUnchanged) {
  const auto dir = std::filesystem::temp_directory_path() / "dptrain_read_file_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bytes.bin").string();
  const std::string bytes = "line 1\r\nzero \0 byte\xff\n"s;  // CR LF, NUL, a non-UTF-8 byte
  { std::ofstream(path, std::ios::binary) << bytes; }
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_EQ(read_file(path, "checkpoint"), bytes);
  { std::ofstream(path, std::ios::binary | std::ios::trunc); }
  EXPECT_EQ(read_file(path), "");
  std::filesystem::remove_all(dir);
}

TEST(ReadFile, MissingFileOrDirectoryIsAnErrorNamingThePath) {
  const auto dir = std::filesystem::temp_directory_path() / "dptrain_read_file_errors_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string missing = (dir / "missing.dpt").string();
  EXPECT_THROW(read_file(missing), Error);
  EXPECT_NE(read_error(missing).find("'" + missing + "'"), std::string::npos);
  EXPECT_NE(read_error(missing, "checkpoint").find("checkpoint '" + missing + "'"),
            std::string::npos);
  const std::string folder = dir.string();
  EXPECT_THROW(read_file(folder), Error);
  EXPECT_NE(read_error(folder).find("'" + folder + "'"), std::string::npos);
  EXPECT_NE(read_error(folder).find("directory"), std::string::npos);
  EXPECT_NE(read_error(folder, "CSV file").find("CSV file '" + folder + "'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(missing));  // reading never creates the file
  std::filesystem::remove_all(dir);
}

TEST(AtomicWrite, FailureLeavesOldFileAndNoTemporary) {
  const auto dir = std::filesystem::temp_directory_path() / "dptrain_atomic_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.dpt").string();
  write_file_atomically(path, "old contents");
  // A folder that cannot hold files (even for root): /proc.
  EXPECT_THROW(write_file_atomically("/proc/dptrain-test.dpt", "x"), Error);
  // The target's folder does not exist.
  try {
    write_file_atomically((dir / "missing" / "m.dpt").string(), "new");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write"), std::string::npos);
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "old contents");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

/// A pid that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

void touch(const std::filesystem::path& p) {
  std::ofstream(p) << "partial";
}

TEST(AtomicWrite, RemovesStaleTemporariesOfDeadWritersOnly) {
  const auto dir = std::filesystem::temp_directory_path() / "dptrain_stale_temp_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getppid());  // our parent is alive
  const auto f = [&](const std::string& name) { return dir / name; };
  // Stale: a killed writer's temporary file of this very target.
  touch(f("m.dpt.tmp." + dead));
  // Kept: a live writer's, another target's, names that only look alike, a folder.
  for (const std::string& name : std::initializer_list<std::string>{
           "m.dpt.tmp." + live, "n.dpt.tmp." + dead, "m.dpt.tmp.x" + dead, "m.dpt.tmp.0" + dead,
           std::string("m.dpt.tmp."), "xm.dpt.tmp." + dead, "m.dpt.tmp." + dead + ".bak"})
    touch(f(name));
  std::filesystem::create_directories(f("m.dpt.tmp.999999999"));
  write_file_atomically(f("m.dpt").string(), "new");
  EXPECT_FALSE(std::filesystem::exists(f("m.dpt.tmp." + dead)));
  EXPECT_TRUE(std::filesystem::exists(f("m.dpt.tmp." + live)));
  EXPECT_TRUE(std::filesystem::exists(f("n.dpt.tmp." + dead)));
  EXPECT_TRUE(std::filesystem::exists(f("m.dpt.tmp.x" + dead)));
  EXPECT_TRUE(std::filesystem::exists(f("m.dpt.tmp.0" + dead)));
  EXPECT_TRUE(std::filesystem::exists(f("m.dpt.tmp.")));
  EXPECT_TRUE(std::filesystem::exists(f("xm.dpt.tmp." + dead)));
  EXPECT_TRUE(std::filesystem::exists(f("m.dpt.tmp." + dead + ".bak")));
  EXPECT_TRUE(std::filesystem::is_directory(f("m.dpt.tmp.999999999")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 9);
  // Called on its own: nothing stale is left.
  touch(f("m.dpt.tmp." + dead));
  EXPECT_EQ(remove_stale_temporaries(f("m.dpt").string()), 1u);
  EXPECT_EQ(remove_stale_temporaries(f("m.dpt").string()), 0u);
  std::filesystem::remove_all(dir);
}

std::string output_error(const std::string& path) {
  try {
    check_output_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string contents(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(AtomicWrite, ThroughASymbolicLinkWritesItsTargetAndKeepsTheLink) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "dptrain_atomic_link_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "real");
  write_file_atomically((dir / "real" / "out.csv").string(), "old");
  fs::create_symlink("real/out.csv", dir / "link.csv");  // relative to the link's folder
  fs::create_symlink(dir / "link.csv", dir / "chain.csv");
  EXPECT_EQ(output_target((dir / "link.csv").string()), (dir / "real" / "out.csv").string());
  EXPECT_EQ(output_target((dir / "chain.csv").string()), (dir / "real" / "out.csv").string());
  EXPECT_NO_THROW(check_output_file((dir / "chain.csv").string()));
  write_file_atomically((dir / "chain.csv").string(), "new");
  EXPECT_EQ(contents(dir / "real" / "out.csv"), "new");
  EXPECT_TRUE(fs::is_symlink(dir / "link.csv"));
  EXPECT_TRUE(fs::is_symlink(dir / "chain.csv"));
  // The temporary file went beside the target and is gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "real"), {}), 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), {}), 3);
  // A dangling link into an existing folder: the target is created.
  fs::create_symlink("real/new.csv", dir / "dangling.csv");
  write_file_atomically((dir / "dangling.csv").string(), "created");
  EXPECT_EQ(contents(dir / "real" / "new.csv"), "created");
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.csv"));
  fs::remove_all(dir);
}

TEST(CheckOutputFile, RefusesLinksToFoldersDevicesMissingFoldersAndLoops) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "dptrain_check_output_link_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string missing = (dir / "missing.csv").string();
  fs::create_symlink(dir / "nodir" / "x.csv", missing);
  const std::string message = output_error(missing);
  EXPECT_NE(message.find("'" + missing + "' (a symbolic link to '"), std::string::npos) << message;
  EXPECT_NE(message.find("folder '" + (dir / "nodir").string() + "' does not exist"),
            std::string::npos)
      << message;
  fs::create_symlink("/dev/null", dir / "null.csv");
  EXPECT_NE(output_error((dir / "null.csv").string()).find("is a device"), std::string::npos);
  fs::create_symlink(dir, dir / "folder.csv");
  EXPECT_NE(output_error((dir / "folder.csv").string()).find("is a folder"), std::string::npos);
  fs::create_symlink("loop2.csv", dir / "loop1.csv");
  fs::create_symlink("loop1.csv", dir / "loop2.csv");
  EXPECT_NE(output_error((dir / "loop1.csv").string()).find("loop of symbolic links"),
            std::string::npos);
  // /dev/stdout leads to /proc/self/fd/1: an open descriptor, whatever file it has open.
  EXPECT_NE(output_error("/dev/stdout").find("open file descriptor"), std::string::npos);
  EXPECT_THROW(write_file_atomically((dir / "null.csv").string(), "x"), Error);
  EXPECT_TRUE(fs::is_symlink(dir / "null.csv"));
  fs::remove_all(dir);
}

TEST(CheckOutputFile, RefusesOpenDescriptorsHoweverSpeltAndFilesOpenHere) {
  // Note [Descriptor paths]: decided by what the path resolves to, not by its spelling.
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "dptrain_check_output_fd_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path keep = dir / "keep.txt";
  std::ofstream(keep) << "kept";
  const int fd = ::open(keep.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string n = std::to_string(fd);
  fs::create_symlink("/dev/fd/" + n, dir / "fd.link");
  for (const std::string& path : {"/dev/fd/" + n, "//proc/self/fd/" + n, "/./proc/self/fd/" + n,
                                  "/proc/self/fd/" + n, (dir / "fd.link").string()}) {
    EXPECT_NE(output_error(path).find("leads to an open file descriptor"), std::string::npos)
        << path << ": " << output_error(path);
    EXPECT_THROW(write_file_atomically(path, "lost"), Error) << path;
  }
  // The file itself, open on `fd`: replacing it would cut it from the descriptor.
  EXPECT_NE(output_error(keep.string()).find("is open in this process (file descriptor " + n),
            std::string::npos)
      << output_error(keep.string());
  EXPECT_THROW(write_file_atomically(keep.string(), "lost"), Error);
  ::close(fd);
  EXPECT_EQ(contents(keep), "kept");
  EXPECT_TRUE(fs::is_symlink(dir / "fd.link"));
  fs::remove_all(dir);
}

TEST(AtomicWrite, KeepsTheModeOfTheFileReplacedAndRefusesWriteProtectedOnes) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "dptrain_atomic_mode_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path secret = dir / "secret.dpt", frozen = dir / "frozen.dpt";
  std::ofstream(secret) << "old";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  write_file_atomically(secret.string(), "new");
  EXPECT_EQ(contents(secret), "new");
  EXPECT_EQ(fs::status(secret).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(frozen) << "old";
  fs::permissions(frozen, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  // Refused even for root, whose access(W_OK) would allow it: no write bit at all.
  EXPECT_NE(output_error(frozen.string()).find("is write-protected (mode 0444)"), std::string::npos)
      << output_error(frozen.string());
  EXPECT_THROW(write_file_atomically(frozen.string(), "new"), Error);
  EXPECT_EQ(contents(frozen), "old");
  fs::remove_all(dir);
}

TEST(SameOutput, ResolvedNamesLinksAndHardLinks) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "dptrain_same_output_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  const std::string m = (dir / "m.dpt").string();
  EXPECT_TRUE(same_output(m, (dir / "sub" / ".." / "m.dpt").string()));  // neither exists yet
  fs::create_symlink("m.dpt", dir / "link.dpt");
  EXPECT_TRUE(same_output(m, (dir / "link.dpt").string()));  // a dangling link to it
  std::ofstream(m) << "x";
  fs::create_hard_link(m, dir / "hard.dpt");
  EXPECT_TRUE(same_output((dir / "hard.dpt").string(), (dir / "./link.dpt").string()));
  EXPECT_FALSE(same_output(m, (dir / "other.dpt").string()));
  EXPECT_FALSE(same_output(m, (dir / "sub" / "m.dpt").string()));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dptrain
