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
/// resolved against the link's folder). Throws dptrain::Error for a loop of links, a link that
/// cannot be read, and a path that goes through an open file descriptor however it is spelt:
/// any hop whose folder resolves to /proc/<pid>/fd (/dev/fd/N, /dev/stdout, //proc/self/fd/N, a
/// link to them), or a link to a pipe, socket or anonymous inode (Note [Descriptor paths]).
std::string output_target(const std::string& path);

/// Throws dptrain::Error unless `path` can take dptrain's output: not through an open file
/// descriptor (output_target); its target absent or a regular file (not a directory, device,
/// FIFO or socket, which an atomic rename would replace); an existing target neither
/// write-protected (no write permission, or no write bit at all, even for root) nor open in this
/// process (e.g. `3>>out.csv` in the shell: the same device and inode as an open descriptor);
/// not one of the `inputs` files (the same file by device and inode); in an existing folder
/// this process can write in. A symbolic link is followed: messages then name both the link and
/// its target. Called before long work, so that a bad path fails at once.
void check_output_file(const std::string& path, std::span<const std::string> inputs = {});

/// True when outputs to `a` and `b` land in the same file: the same device and inode when both
/// targets (output_target) exist, else the same name once resolved (./x and x, dir/../x, a
/// symbolic link to x). For refusing two outputs of one command that would overwrite each other.
bool same_output(const std::string& a, const std::string& b);

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old file or the
/// new one, never a torn mix: the bytes go to a temporary file in the same folder, which is
/// fsync'ed, renamed over `path`, and the folder fsync'ed. On failure (full disk, read-only
/// folder, file-size limit) the temporary file is removed, `path` is untouched, and
/// dptrain::Error says what failed and where. Through a symbolic link the link's target is
/// written (the temporary file goes beside the target) and the link stays a link. Refuses a
/// target that check_output_file refuses for what it is (not a regular file, write-protected,
/// open in this process, behind a file descriptor); a replaced file's permission bits (and, best
/// effort, its owner and group) are kept, a new file gets 0644 less the umask. The temporary
/// file is "<target>.tmp.<pid>"; a process killed mid-write (SIGKILL, power loss) leaves it
/// behind, so each write first removes the stale ones (remove_stale_temporaries).
void write_file_atomically(const std::string& path, std::string_view bytes);

/// Removes the temporary files that earlier, dead writers of `path` left: regular files named
/// "<file name of path>.tmp.<pid>" in path's folder whose pid is not a live process (kill(pid,
/// 0) fails with ESRCH) and is not this process. Files of live pids, other names, symbolic links
/// and folders are kept. Returns how many were removed; errors are ignored (best effort). A
/// writer in another pid namespace sharing the folder would look dead: do not share one output
/// path between containers.
std::size_t remove_stale_temporaries(const std::string& path);

}  // namespace dptrain
