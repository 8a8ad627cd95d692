#pragma once
// In-memory data sets and the loaders that fill them.
//
// Data set specs (the CLI's --data / --test-data):
//   fashion-mnist          Fashion-MNIST training split (60000 x 784, 10 classes) from Debian's
//                          dataset-fashion-mnist package; fashion-mnist:test is the 10000-row
//                          test split. DPTRAIN_FASHION_MNIST_DIR overrides the folder.
//   idx:<images>,<labels>  any MNIST-format pair of IDX files, plain or gzipped
//   xor | square | blobs8 | linear   synthetic sets generated from the seed (synthetic.cpp)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/loss.hpp"

namespace dptrain {

struct Dataset {
  std::string source;  ///< where the data came from, used in messages
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;  ///< rows x features, row-major

  /// Classification: classes > 0 and one label in [0, classes) per row.
  std::size_t classes = 0;
  std::vector<std::int32_t> labels;

  /// Regression: rows x target_width real targets (classes == 0).
  std::size_t target_width = 0;
  std::vector<float> targets;

  bool classification() const { return classes > 0; }
  /// Throws dptrain::Error naming the source and the first bad row: sizes that do not match,
  /// NaN/Inf features or targets, labels out of range, no rows.
  void validate() const;
  /// The first min(n, rows) rows.
  Dataset head(std::size_t n) const;
};

/// Reads an MNIST-format image file (IDX magic 0x00000803, u8 pixels, scaled to [0, 1]) and label
/// file (magic 0x00000801, u8). gzip is detected and inflated through zlib. Throws dptrain::Error
/// naming the file for: missing/unreadable file, bad magic, truncated data, gzip errors,
/// image/label count mismatch.
Dataset load_idx(const std::string& images_path, const std::string& labels_path);

/// Folder of the Debian package's Fashion-MNIST files.
std::string fashion_mnist_dir();

bool is_synthetic_name(std::string_view name);

/// Synthetic sets after the source articles, a pure function of (name, seed):
///   xor     4 rows, 2 features, labels 0/1 (the XOR truth table)
///   square  100 rows, x uniform in [-1, 1], target y = x^2
///   blobs8  768 rows, 8 features, 2 classes (about 65% / 35%, like Pima diabetes), two
///           overlapping Gaussian clouds a good classifier separates at about 95%
///   linear  1000 rows, 8 features, y = w.x + b + N(0, 0.1^2) noise
Dataset make_synthetic(std::string_view name, std::uint64_t seed);

/// Resolves a data set spec (see the top of this header). For synthetic names, `seed` picks the
/// sample (the CLI uses seed + 1 for the test set, a fresh sample of the same distribution).
Dataset load_dataset(std::string_view spec, std::uint64_t seed);

}  // namespace dptrain
