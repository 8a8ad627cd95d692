#pragma once
// NumPy's .npy files (format versions 1.0, 2.0 and 3.0): the Python world's plain binary
// arrays. A float32 C-order feature matrix is memory-mapped and read in place (Note [Borrowed
// features] in data.hpp); other numeric types and Fortran order are converted once.
//
// Specs (the CLI's --data / --test-data): npy:<features.npy>[,<labels.npy>]; --labels
// npy:<labels.npy> gives the labels of an npy: data set too.
//
// NumPy's .npz files (numpy.savez, numpy.savez_compressed) are zip archives of .npy members:
// npz:<file.npz>[:<features>[,<labels>]] (Note [Npz archives] in src/npz.cpp). A stored
// member is read in place from the mapped archive like a .npy file, a deflated one inflated
// once. Messages name a member as <file.npz>:<member>, e.g. 'd.npz:x.npy'.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/data.hpp"

namespace dptrain {

/// A .npy header, validated: what the bytes after it hold.
struct NpyHeader {
  char byte_order = '<';  ///< '<' little-endian, '>' big-endian, '|' not applicable (1 byte)
  char kind = 'f';        ///< 'f' float, 'i' signed, 'u' unsigned integer, 'b' bool
  std::size_t item_size = 4;
  bool fortran_order = false;
  std::vector<std::size_t> shape;  ///< 0 to 2 dimensions (more are refused)
  std::size_t data_offset = 0;     ///< where the values start in the file
  std::size_t count() const;       ///< the product of shape (1 for a scalar)
  std::string describe() const;    ///< e.g. "float32 (400000, 50)"
};

/// Parses and checks the header at the start of `bytes` (the whole file): the magic, the
/// version, the header dict (exactly the keys descr, fortran_order and shape, Python literal
/// syntax as numpy writes it), a numeric type numpy writes (float16 and structured, object or
/// string arrays are refused: nothing is unpickled), at most 2 dimensions, and a file holding
/// exactly the bytes the shape needs. Throws dptrain::Error naming `name` and what is wrong.
NpyHeader parse_npy_header(std::string_view bytes, const std::string& name);

/// Features from a .npy file's bytes (2-D: rows x features, 1-D: one feature) and, when
/// `label_bytes` is not empty, labels (1-D, or 2-D with one column): class labels (integers,
/// or whole floats, mapped as Note [Schema] says, onto options.model_classes when set) or, with
/// options.classification false, regression targets. The features are copied here; load_npy
/// maps them. Throws dptrain::Error naming the file: bad headers, row counts that differ,
/// non-finite values, labels that are not classes.
Dataset parse_npy(std::string_view feature_bytes, std::string_view label_bytes,
                  const std::string& features_path, const std::string& labels_path,
                  const TableOptions& options);

/// The same from files; `labels_path` may be empty (unlabelled data). A float32 little-endian
/// C-order feature file is memory-mapped and borrowed in place (Dataset::borrowed_x, kept
/// alive by Dataset::borrowed_owner); any other is converted once.
Dataset load_npy(const std::string& features_path, const std::string& labels_path,
                 const TableOptions& options);

/// Sets the labels of `data` (features only) from a .npy file, as parse_npy reads labels.
void attach_npy_labels(Dataset& data, const std::string& labels_path, const TableOptions& options);

/// Features from the bytes of a .npy array named `name`: borrowed in place when `owner` is set
/// (it keeps `bytes` alive) and the array is float32 little-endian C-order at a 4-aligned
/// address, else converted (copied) once. Throws as load_npy does.
Dataset npy_features(std::string_view bytes, const std::string& name,
                     std::shared_ptr<const void> owner);
/// Labels of `data` (features only) from the bytes of a .npy array named `name`.
void set_npy_labels(Dataset& data, std::string_view bytes, const std::string& name,
                    const TableOptions& options);

/// Which arrays of a .npz archive to read.
struct NpzSpec {
  std::string path;
  std::string features;  ///< the features' array name; empty: x, else X
  std::string labels;    ///< the labels' array name; empty: see labels_if_present
  /// With `labels` empty: true reads y (else Y) when the archive has one, false reads none.
  bool labels_if_present = false;
};

/// Parses what follows "npz:" in a spec: <file.npz> (features x or X, labels y or Y when
/// present) or <file.npz>:<features>[,<labels>] (exactly those arrays; names end before the
/// last ':', so a path holding ':' needs the names). Throws dptrain::Error for an empty path
/// or name.
NpzSpec parse_npz_spec(std::string_view rest);

/// One member of a zip archive, from its central directory.
struct NpzMember {
  std::string name;  ///< as stored, e.g. "x.npy"
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0, size = 0, header_offset = 0;
};

/// The members of the zip archive `bytes` (the whole file), read from its central directory
/// (zip64 records included). Throws dptrain::Error naming `path` and what is damaged.
std::vector<NpzMember> npz_members(std::string_view bytes, const std::string& path);

/// The arrays `spec` names from an archive's bytes (features copied), as parse_npy reads them.
/// Throws dptrain::Error naming the archive and the member: a damaged zip, a missing array,
/// an encrypted member or another compression than stored or deflate, corrupt deflate data or
/// a CRC-32 mismatch, and every .npy error.
Dataset parse_npz(std::string_view bytes, const NpzSpec& spec, const TableOptions& options);
/// The same from the file, memory-mapped: a stored float32 C-order 4-aligned features member is
/// read in place, a deflated one inflated once into memory the Dataset owns
/// (Dataset::borrowed_owner); other types and alignments are converted once.
Dataset load_npz(const NpzSpec& spec, const TableOptions& options);
/// Sets the labels of `data` (features only) from the array spec.labels (empty: y, else Y).
void attach_npz_labels(Dataset& data, const NpzSpec& spec, const TableOptions& options);

}  // namespace dptrain
