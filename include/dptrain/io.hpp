#pragma once
// Crash-safe file output.
#include <string>
#include <string_view>

namespace dptrain {

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old file or the
/// new one, never a torn mix: the bytes go to a temporary file in the same folder, which is
/// fsync'ed, renamed over `path`, and the folder fsync'ed. On failure (full disk, read-only
/// folder, file-size limit) the temporary file is removed, `path` is untouched, and
/// dptrain::Error says what failed and where.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace dptrain
