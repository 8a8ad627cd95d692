#pragma once
// Crash-safe file output.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace dptrain {

/// The whole file as bytes. Throws dptrain::Error naming the file (and `what` it is, e.g.
/// "checkpoint", when not empty): missing, unreadable, or a directory.
std::string read_file(const std::string& path, std::string_view what = {});

/// The file that output to `path` lands in: `path` itself, or when `path` is a symbolic link
/// (or a chain of them) the link's final target, which may not exist yet (relative targets are
/// resolved against the link's folder). Throws dptrain::Error for a loop of links or a link
/// that cannot be read.
std::string output_target(const std::string& path);

/// Throws dptrain::Error unless `path` can take dptrain's output: its target (output_target)
/// absent or a regular file (not a directory, device, FIFO or socket, which an atomic rename
/// would replace), not one of the `inputs` files (the same file by device and inode), in an
/// existing folder this process can write in. A symbolic link is followed: messages then name
/// both the link and its target. Called before long work, so that a bad path fails at once.
void check_output_file(const std::string& path, std::span<const std::string> inputs = {});

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old file or the
/// new one, never a torn mix: the bytes go to a temporary file in the same folder, which is
/// fsync'ed, renamed over `path`, and the folder fsync'ed. On failure (full disk, read-only
/// folder, file-size limit) the temporary file is removed, `path` is untouched, and
/// dptrain::Error says what failed and where. Through a symbolic link the link's target is
/// written (the temporary file goes beside the target) and the link stays a link. Refuses a
/// target that exists and is not a regular file (check_output_file). The temporary file is
/// "<target>.tmp.<pid>"; a process killed mid-write (SIGKILL, power loss) leaves it behind, so
/// each write first removes the stale ones (remove_stale_temporaries).
void write_file_atomically(const std::string& path, std::string_view bytes);

/// Removes the temporary files that earlier, dead writers of `path` left: regular files named
/// "<file name of path>.tmp.<pid>" in path's folder whose pid is not a live process (kill(pid,
/// 0) fails with ESRCH) and is not this process. Files of live pids, other names, symbolic links
/// and folders are kept. Returns how many were removed; errors are ignored (best effort). A
/// writer in another pid namespace sharing the folder would look dead: do not share one output
/// path between containers.
std::size_t remove_stale_temporaries(const std::string& path);

}  // namespace dptrain
