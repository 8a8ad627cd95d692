#pragma once
// Crash-safe file output.
#include <string>
#include <string_view>

namespace dptrain {

/// The whole file as bytes. Throws dptrain::Error naming the file (and `what` it is, e.g.
/// "checkpoint", when not empty): missing, unreadable, or a directory.
std::string read_file(const std::string& path, std::string_view what = {});

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old file or the
/// new one, never a torn mix: the bytes go to a temporary file in the same folder, which is
/// fsync'ed, renamed over `path`, and the folder fsync'ed. On failure (full disk, read-only
/// folder, file-size limit) the temporary file is removed, `path` is untouched, and
/// dptrain::Error says what failed and where.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace dptrain
