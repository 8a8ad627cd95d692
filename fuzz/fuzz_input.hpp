#pragma once
// What one fuzz input means for each reader, shared by the libFuzzer targets (fuzz/*.cpp) and the
// regression test (tests/fuzz_regression_test.cpp), so that a crashing input saved by libFuzzer
// can be copied into tests/fuzz_regressions/<reader>/ unchanged.
//
// The reader contract: for any bytes a reader returns a valid object or throws dptrain::Error.
// run_* call the reader, swallow dptrain::Error only (returning false), and check what a
// successful call returned (returning true); a broken invariant throws std::logic_error.
// Anything escaping run_* is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/data.hpp"
#include "dptrain/error.hpp"
#include "dptrain/model.hpp"
#include "dptrain/npy.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/table.hpp"

namespace dptrain::fuzz {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("reader returned an invalid object: " + what);
}

/// The invariants every Dataset a reader returns must hold (the size checks without overflow,
/// which Dataset::validate() does not guard against).
inline void check_dataset(const Dataset& d) {
  std::size_t cells = 0;
  require(!__builtin_mul_overflow(d.rows, d.features, &cells), "rows x features overflows");
  require(d.rows > 0 && d.features > 0, "no rows or no features");
  require(d.x.size() == cells, "x.size() != rows x features");
  if (d.classes > 0) {
    require(d.labels.size() == d.rows, "labels.size() != rows");
    require(d.targets.empty() && d.target_width == 0, "classification data with targets");
  } else {
    require(d.labels.empty(), "regression data with labels");
    std::size_t targets = 0;
    require(
        !__builtin_mul_overflow(d.rows, d.target_width, &targets) && d.targets.size() == targets,
        "targets.size() != rows x target_width");
  }
  try {
    d.validate();
  } catch (const Error& e) {
    require(false, std::string("validate() rejects it: ") + e.what());
  }
}

// ---- IDX: [u16 little-endian n][n bytes of image file][label file] --------------------------

struct IdxInput {
  std::string_view images, labels;
};

inline IdxInput split_idx_input(std::string_view in) {
  if (in.size() < 2) return {{}, in};
  const std::size_t n = std::size_t(static_cast<unsigned char>(in[0])) |
                        std::size_t(static_cast<unsigned char>(in[1])) << 8;
  in.remove_prefix(2);
  const std::size_t split = n < in.size() ? n : in.size();
  return {in.substr(0, split), in.substr(split)};
}

inline bool run_idx(std::string_view in) {
  const IdxInput parts = split_idx_input(in);
  Dataset d;
  try {
    d = parse_idx(parts.images, parts.labels, "images", "labels");
  } catch (const Error&) {
    return false;
  }
  check_dataset(d);
  require(d.classes >= 10 && d.classes <= 256, "IDX class count outside [10, 256]");
  return true;
}

// ---- CSV: [flags][delimiter byte][text] ----------------------------------------------------
//   flags bits 0-1: header (0 detect, 1 yes, 2 no, 3 detect)
//         bits 2-4: label: "", "none", "0", "-1", "1", "label", "-9", "99"
//         bit  5:   regression (classification = false)
//   delimiter byte: 0-3 pick ',', ';', '\t', '|'; any other byte is the delimiter itself.

struct CsvInput {
  TableOptions options;
  std::string_view text;
};

inline CsvInput split_csv_input(std::string_view in) {
  CsvInput out;
  if (in.size() < 2) {
    out.text = in;
    return out;
  }
  const auto flags = static_cast<unsigned char>(in[0]);
  const auto delim = static_cast<unsigned char>(in[1]);
  static constexpr TableOptions::Header kHeaders[] = {
      TableOptions::Header::detect, TableOptions::Header::yes, TableOptions::Header::no,
      TableOptions::Header::detect};
  static constexpr const char* kLabels[] = {"", "none", "0", "-1", "1", "label", "-9", "99"};
  static constexpr char kDelims[] = {',', ';', '\t', '|'};
  out.options.header = kHeaders[flags & 3];
  out.options.label = kLabels[(flags >> 2) & 7];
  out.options.classification = (flags & 0x20) == 0;
  out.options.delimiter = delim < 4 ? kDelims[delim] : static_cast<char>(delim);
  out.text = in.substr(2);
  return out;
}

/// The same data set, bit for bit.
inline bool same_dataset(const Dataset& a, const Dataset& b) {
  auto bits = [](const std::vector<float>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  };
  return a.rows == b.rows && a.features == b.features && bits(a.x) == bits(b.x) &&
         a.classes == b.classes && a.labels == b.labels && a.target_width == b.target_width &&
         bits(a.targets) == bits(b.targets) && a.schema == b.schema;
}

/// parse_csv_with's result or message.
inline std::string csv_outcome(const CsvInput& parts, std::size_t chunk, bool fast,
                               parallel::WorkerPool* pool, Dataset& d) {
  TableOptions options = parts.options;
  options.pool = pool;
  try {
    d = parse_csv_with(parts.text, "fuzz.csv", options, chunk, fast);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

/// Reads the text with the exact reader alone (libcsv), then with the fast path on three
/// workers in chunks of a few bytes (Note [Fast CSV path]): the same data set or the same
/// message, or the fast path changed what a file means.
inline bool run_csv(std::string_view in) {
  const CsvInput parts = split_csv_input(in);
  static parallel::WorkerPool pool(parallel::Backend::threads, 3);
  Dataset d, fast;
  const std::string message = csv_outcome(parts, kCsvChunkBytes, false, nullptr, d);
  const std::size_t chunk = 4 + (in.empty() ? 0 : static_cast<unsigned char>(in[0]) >> 6) * 12;
  const std::string fast_message = csv_outcome(parts, chunk, true, &pool, fast);
  require(message == fast_message,
          "the fast CSV path says '" + fast_message + "', the exact reader '" + message + "'");
  if (!message.empty()) return false;
  require(same_dataset(d, fast), "the fast CSV path read another data set");
  check_dataset(d);
  if (parts.options.label == "none")
    require(!d.labelled(), "label 'none' gave labelled data");
  else
    require(d.labelled(), "a label column gave unlabelled data");
  return true;
}

// ---- npy: [u16 little-endian n][n bytes of features .npy][labels .npy, may be empty] ----------

inline bool run_npy(std::string_view in) {
  const IdxInput parts = split_idx_input(in);  // the same two-file layout as IDX
  Dataset d;
  TableOptions options;
  options.classification = parts.images.size() % 2 == 0;
  try {
    d = parse_npy(parts.images, parts.labels, "x.npy", "y.npy", options);
  } catch (const Error&) {
    return false;
  }
  check_dataset(d);
  require(d.labelled() == !parts.labels.empty(), "labels read from no labels file or lost");
  return true;
}

// ---- npz: [flags][the bytes of a .npz archive] ---------------------------------------------
//   flags bit 0: labels y/Y read when present (else features only); bit 1: regression.

inline bool run_npz(std::string_view in) {
  const auto flags = in.empty() ? 0u : static_cast<unsigned char>(in[0]);
  const std::string_view archive = in.empty() ? in : in.substr(1);
  TableOptions options;
  options.classification = (flags & 2) == 0;
  Dataset d;
  try {
    (void)npz_members(archive, "fuzz.npz");  // the directory alone, every member of it
    d = parse_npz(archive, {"fuzz.npz", "", "", (flags & 1) != 0}, options);
  } catch (const Error&) {
    return false;
  }
  check_dataset(d);
  if ((flags & 1) == 0) require(!d.labelled(), "labels read when none were asked for");
  return true;
}

// ---- checkpoint: the bytes of a checkpoint file ----------------------------------------------

inline bool run_checkpoint(std::string_view in) {
  Checkpoint c;
  try {
    c = decode_checkpoint(in, "fuzz.dpt");
  } catch (const Error&) {
    return false;
  }
  try {
    c.spec.validate();
  } catch (const Error& e) {
    require(false, std::string("spec.validate() rejects it: ") + e.what());
  }
  const Model<float> m = model_from_checkpoint(c);
  require(m.parameter_count() == c.parameters.size(), "parameter count");
  require(c.state0.size() == 0 || c.state0.size() == c.parameters.size(), "state0 size");
  require(c.state1.size() == 0 || c.state1.size() == c.parameters.size(), "state1 size");
  return true;
}

}  // namespace dptrain::fuzz
