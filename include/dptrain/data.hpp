#pragma once
// In-memory data sets and the loaders that fill them.
//
// Data set specs (the CLI's --data / --test-data):
//   fashion-mnist          Fashion-MNIST training split (60000 x 784, 10 classes) from Debian's
//                          dataset-fashion-mnist package; fashion-mnist:test is the 10000-row
//                          test split. DPTRAIN_FASHION_MNIST_DIR overrides the folder.
//   idx:<images>,<labels>  any MNIST-format pair of IDX files, plain or gzipped
//   csv:<path>             a CSV file, one sample per row (table.hpp; options in TableOptions)
//   npy:<x.npy>[,<y.npy>]  NumPy arrays: features, and labels or targets (npy.hpp)
//   npz:<file.npz>[:<x>[,<y>]]  the same from a NumPy archive (default arrays x/X, y/Y; npy.hpp)
//   sqlite:<db-path>       a SQLite table (TableOptions::table) or query (TableOptions::query)
//   xor | square | blobs8 | linear   synthetic sets generated from the seed (synthetic.cpp)
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/loss.hpp"
#include "dptrain/schema.hpp"

namespace dptrain {

namespace parallel {
class WorkerPool;
}

struct Dataset {
  std::string source;  ///< where the data came from, used in messages
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;  ///< rows x features, row-major (owned; see borrowed_x)
  /// Note [Borrowed features]. Rows x features values owned by the caller (a NumPy array, a
  /// memory map), read instead of x when non-empty; x is then empty. The caller keeps them alive
  /// and unchanged while this Dataset or a copy of it is used (copies borrow the same values).
  /// Readers go through feature_values(); code that changes values in place calls
  /// own_features() first.
  std::span<const float> borrowed_x;
  /// What keeps borrowed_x alive when the Dataset owns its borrow (a memory-mapped .npy file,
  /// npy.hpp): copies share it; null when the caller keeps the values alive.
  std::shared_ptr<const void> borrowed_owner;
  /// borrowed_x lies in a read-only map of a file (load_npy, load_npz), so its pages may be
  /// dropped and read again from the file (TrainConfig::shuffle_mode window does).
  bool borrowed_from_file = false;

  /// Classification: classes > 0 and one label in [0, classes) per row.
  std::size_t classes = 0;
  std::vector<std::int32_t> labels;

  /// Regression: rows x target_width real targets (classes == 0).
  std::size_t target_width = 0;
  std::vector<float> targets;
  /// Column names, label column, class names (schema.hpp); loaders fill what they know.
  DataSchema schema;

  /// The rows x features values: borrowed_x when set, else x.
  std::span<const float> feature_values() const noexcept {
    return borrowed_x.empty() ? std::span<const float>(x) : borrowed_x;
  }
  /// Copies borrowed values into x and drops the borrow (no-op when x owns them).
  void own_features();

  bool classification() const { return classes > 0; }
  /// Features only (classes == 0 and target_width == 0): data to predict on.
  bool labelled() const { return classes > 0 || target_width > 0; }
  /// Throws dptrain::Error naming the source and the first bad row: x and borrowed_x both set,
  /// sizes that do not match,
  /// NaN/Inf features or targets, labels out of range, no rows.
  void validate() const;
  /// The first min(n, rows) rows.
  Dataset head(std::size_t n) const;
};

/// Note [Column matching]
/// A model reads feature j where it learned feature j. When the model's schema and the data both
/// name their features (a header), `conform_to_schema` puts the data's feature columns in the
/// model's order: the same names in another order are reordered (`note`, when given, gets one
/// line saying so; it is left alone otherwise), and names missing from the data or not known to
/// the model are an Error listing them. When either side has no names the data are returned
/// as they are; the feature count is then checked where the model reads them
/// (Trainer::check_data, evaluate, predict). Labels and targets are untouched. The CLI calls it
/// for eval, predict, test sets and resumed training.
Dataset conform_to_schema(Dataset data, const DataSchema& schema, std::string* note = nullptr);

/// How to read tabular data (csv:, sqlite:): which column is the label and how rows look.
struct TableOptions {
  /// The label column: a header name, or a 0-based index (negative counts from the end).
  /// Empty: the last column. "none": no label column, every column is a feature (prediction).
  std::string label;
  enum class Header { detect, yes, no };
  /// detect: the first row is a header when any of its fields is not a number.
  Header header = Header::detect;
  char delimiter = ',';
  /// true: the label is a class label, text or a whole number, mapped to class indices as
  /// Note [Schema] says (labels 0..C-1 stay indices; others sort like scikit-learn's classes_).
  /// false: a real-valued regression target. The CLI decides from --loss (mse: regression).
  bool classification = true;
  /// CSV: physical lines to skip before the header or first row (e.g. scikit-learn's counts
  /// line "150,4,setosa,versicolor,virginica"). Lines starting with '#' are always comments.
  std::size_t skip_rows = 0;
  /// Data read for a trained model (eval, predict, a test or resumed training set): its class
  /// count (0: regression) and schema. Class labels then map onto the model's classes (a label
  /// it does not know is an Error naming it, the file and line), and with `label` empty a
  /// header column named model_schema->label_column is the label; a header holding exactly the
  /// model's feature names and not its label column is read as unlabelled (nothing to drop),
  /// and so is a file of exactly `model_inputs` columns when the file or the model names no
  /// features (no room for a label).
  std::size_t model_classes = 0;
  std::optional<DataSchema> model_schema;
  std::size_t model_inputs = 0;  ///< the model's input width; 0: unknown
  /// SQLite: read every column of this table, or run this SELECT (exactly one of them).
  std::string table;
  std::string query;
  /// CSV: parse on these workers (the engine's --threads; Note [Streaming CSV] in
  /// src/csv_reader.cpp); null: on the calling thread. Not owned.
  parallel::WorkerPool* pool = nullptr;
};

/// Reads an MNIST-format image file (IDX magic 0x00000803, u8 pixels, scaled to [0, 1]) and label
/// file (magic 0x00000801, u8). gzip is detected and inflated through zlib. Throws dptrain::Error
/// naming the file for: missing/unreadable file, bad magic, truncated data, gzip errors,
/// image/label count mismatch.
Dataset load_idx(const std::string& images_path, const std::string& labels_path);

/// The same from bytes already in memory (plain or gzip); the paths only name them in messages.
Dataset parse_idx(std::string_view image_bytes, std::string_view label_bytes,
                  const std::string& images_path, const std::string& labels_path);

/// Inflates gzip data (detected by its magic bytes), every member of it (concatenated members
/// are one gzip file); other bytes are returned as they are. Throws dptrain::Error naming `name`
/// for truncated or corrupt gzip data and for trailing bytes that are not a gzip member.
std::vector<unsigned char> gunzip_if_gzipped(std::string_view bytes, const std::string& name);

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
/// `table` applies to csv: and sqlite: specs.
Dataset load_dataset(std::string_view spec, std::uint64_t seed, const TableOptions& table = {});

}  // namespace dptrain
