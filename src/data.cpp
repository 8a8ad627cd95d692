#include "dptrain/data.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/npy.hpp"
#include "dptrain/table.hpp"
#include "inflate.hpp"

namespace dptrain {

namespace {

/// The index of the first NaN or infinite value, or values.size(): scanned a block at a time
/// without a branch per value (the loop vectorises; a data set's validation was a tenth of a
/// CSV load), the exact place looked for only in a block that has one.
std::size_t first_non_finite(std::span<const float> values) {
  constexpr std::size_t kBlock = 4096;
  constexpr std::uint32_t kExponent = 0x7f800000;  // all ones: NaN or infinite
  for (std::size_t b = 0; b < values.size(); b += kBlock) {
    const std::size_t e = std::min(values.size(), b + kBlock);
    std::uint32_t most = 0;
    for (std::size_t i = b; i < e; ++i)
      most = std::max(most, std::bit_cast<std::uint32_t>(values[i]) & kExponent);
    if (most == kExponent)
      for (std::size_t i = b; i < e; ++i)
        if (!std::isfinite(values[i])) return i;
  }
  return values.size();
}

}  // namespace

void Dataset::validate() const {
  const std::string where = "data '" + source + "'";
  if (rows == 0) throw Error(where + ": no rows");
  if (features == 0) throw Error(where + ": no feature columns");
  if (!borrowed_x.empty() && !x.empty())
    throw Error(where + ": features given twice (x and borrowed_x); set one of them");
  const std::span<const float> values = feature_values();
  if (values.size() != rows * features) throw Error(where + ": feature matrix has the wrong size");
  if (const std::size_t i = first_non_finite(values); i < values.size())
    throw Error(where + ": row " + std::to_string(i / features + 1) + ", feature " +
                std::to_string(i % features + 1) + " is " +
                (std::isnan(values[i]) ? "NaN" : "Inf"));
  if (classes > 0) {
    if (labels.size() != rows) throw Error(where + ": label count differs from row count");
    for (std::size_t r = 0; r < rows; ++r)
      if (labels[r] < 0 || std::size_t(labels[r]) >= classes)
        throw Error(where + ": row " + std::to_string(r + 1) + " has label " +
                    std::to_string(labels[r]) + ", outside [0, " + std::to_string(classes) + ")");
  } else if (target_width > 0 || !targets.empty()) {
    if (target_width == 0 || targets.size() != rows * target_width)
      throw Error(where + ": regression targets missing or of the wrong size");
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (!std::isfinite(targets[i]))
        throw Error(where + ": row " + std::to_string(i / target_width + 1) + " has " +
                    (std::isnan(targets[i]) ? "a NaN" : "an infinite") + " target");
  }
}

void Dataset::own_features() {
  if (borrowed_x.empty()) return;
  x.assign(borrowed_x.begin(), borrowed_x.end());
  borrowed_x = {};
  borrowed_owner.reset();
  borrowed_from_file = false;
}

Dataset Dataset::head(std::size_t n) const {
  Dataset d;
  d.source = source;
  d.rows = std::min(n, rows);
  d.features = features;
  const std::span<const float> values = feature_values();
  d.x.assign(values.begin(), values.begin() + std::ptrdiff_t(d.rows * features));
  d.classes = classes;
  if (!labels.empty()) d.labels.assign(labels.begin(), labels.begin() + std::ptrdiff_t(d.rows));
  d.target_width = target_width;
  d.schema = schema;
  if (!targets.empty())
    d.targets.assign(targets.begin(), targets.begin() + std::ptrdiff_t(d.rows * target_width));
  return d;
}

// ---- IDX ----------------------------------------------------------------------------------------

std::vector<unsigned char> gunzip_if_gzipped(std::string_view bytes, const std::string& name) {
  const auto in = detail::InputStream::memory(bytes, name);
  std::vector<unsigned char> out;
  for (;;) {  // grown a block at a time, within the memory check (Note [Bounded inflation])
    const std::size_t have = out.size(), block = std::max<std::size_t>(1 << 16, have / 2);
    check_fits_memory(double(have + block), "inflating '" + name + "'", ErrorTopic::none);
    out.resize(have + block);
    const std::size_t n = in->read(reinterpret_cast<char*>(out.data() + have), block);
    out.resize(have + n);
    if (n < block) return out;
  }
}

namespace {

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         std::uint32_t(p[3]);
}

struct IdxFile {
  std::vector<unsigned char> bytes;
  std::vector<std::size_t> dims;
  const unsigned char* data() const { return bytes.data() + 4 + 4 * dims.size(); }
};

/// Appends up to `n` bytes of `in` to `out`, a block at a time (a truncated file claiming a
/// huge size costs only what it holds); returns how many came.
std::size_t read_more(detail::InputStream& in, std::vector<unsigned char>& out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t have = out.size(), block = std::min<std::size_t>(n - got, 1 << 24);
    out.resize(have + block);
    const std::size_t m = in.read(reinterpret_cast<char*>(out.data() + have), block);
    out.resize(have + m);
    got += m;
    if (m < block) break;
  }
  return got;
}

/// Reads an IDX file from `in`: the header first, then exactly the bytes it promises (checked
/// against memory before they are read), so that a gzip bomb is never inflated whole (Note
/// [Bounded inflation]); bytes beyond the payload are counted, not kept.
IdxFile read_idx_file(detail::InputStream& in, const std::string& path, std::size_t expected_dims) {
  IdxFile f;
  read_more(in, f.bytes, 4);
  if (f.bytes.size() < 4) throw Error("'" + path + "' is not an IDX file: too short for a header");
  const unsigned char* p = f.bytes.data();
  if (p[0] != 0 || p[1] != 0 || p[2] != 0x08 || p[3] != expected_dims) {
    char got[16];
    std::snprintf(got, sizeof got, "0x%02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
    throw Error("'" + path + "' has IDX magic " + got + ", expected 0x000008" +
                (expected_dims == 3 ? "03 (u8 images)" : "01 (u8 labels)"));
  }
  if (read_more(in, f.bytes, 4 * expected_dims) < 4 * expected_dims)
    throw Error("'" + path + "' is truncated: the IDX header is incomplete");
  std::size_t count = 1;
  for (std::size_t i = 0; i < expected_dims; ++i) {
    f.dims.push_back(be32(f.bytes.data() + 4 + 4 * i));
    if (f.dims.back() == 0) throw Error("'" + path + "' has a zero dimension in its IDX header");
    // Checked before multiplying: three u32 dimensions can overflow 64 bits.
    if (f.dims.back() > (std::size_t(1) << 36) / count)
      throw Error("'" + path + "' declares an absurd size");
    count *= f.dims.back();
  }
  // The bytes and the float features they become.
  check_fits_memory(double(count) * 5, "'" + path + "'", ErrorTopic::none);
  const std::size_t have = read_more(in, f.bytes, count);
  if (have < count)
    throw Error("'" + path + "' is truncated: header promises " + std::to_string(count) +
                " bytes of data, file has " + std::to_string(have));
  char scratch[1 << 16];
  std::size_t extra = 0;
  while (const std::size_t n = in.read(scratch, sizeof scratch)) extra += n;
  if (extra > 0)
    throw Error("'" + path + "' has " + std::to_string(extra) +
                " bytes of trailing data after the IDX payload");
  return f;
}

IdxFile parse_idx_file(std::string_view raw, const std::string& path, std::size_t dims) {
  const auto in = detail::InputStream::memory(raw, path);
  return read_idx_file(*in, path, dims);
}

Dataset make_idx_dataset(const IdxFile& images, const IdxFile& labels,
                         const std::string& images_path, const std::string& labels_path) {
  if (images.dims[0] != labels.dims[0])
    throw Error("'" + images_path + "' holds " + std::to_string(images.dims[0]) + " images but '" +
                labels_path + "' holds " + std::to_string(labels.dims[0]) + " labels");
  Dataset d;
  d.source = images_path;
  d.rows = images.dims[0];
  d.features = images.dims[1] * images.dims[2];
  d.x.resize(d.rows * d.features);
  const unsigned char* px = images.data();
  for (std::size_t i = 0; i < d.x.size(); ++i) d.x[i] = float(px[i]) * (1.0f / 255.0f);
  d.labels.resize(d.rows);
  const unsigned char* lb = labels.data();
  int max_label = 0;
  for (std::size_t r = 0; r < d.rows; ++r) {
    d.labels[r] = lb[r];
    max_label = std::max(max_label, int(lb[r]));
  }
  // MNIST-format label files carry digits/classes 0-9; a larger label means more classes.
  d.classes = std::max(10, max_label + 1);
  d.schema.task = Task::classification;  // class indices: no names (Note [Schema])
  d.validate();
  return d;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
  const auto images = detail::InputStream::file(images_path);
  const auto labels = detail::InputStream::file(labels_path);
  return make_idx_dataset(read_idx_file(*images, images_path, 3),
                          read_idx_file(*labels, labels_path, 1), images_path, labels_path);
}

Dataset parse_idx(std::string_view image_bytes, std::string_view label_bytes,
                  const std::string& images_path, const std::string& labels_path) {
  return make_idx_dataset(parse_idx_file(image_bytes, images_path, 3),
                          parse_idx_file(label_bytes, labels_path, 1), images_path, labels_path);
}

std::string fashion_mnist_dir() {
  if (const char* dir = std::getenv("DPTRAIN_FASHION_MNIST_DIR"); dir && *dir) return dir;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset load_dataset(std::string_view spec, std::uint64_t seed, const TableOptions& table) {
  if (spec.starts_with("csv:")) {
    if (spec.size() == 4) throw Error("data spec 'csv:' needs a path: csv:<path>");
    return load_csv(std::string(spec.substr(4)), table);
  }
  if (spec.starts_with("npy:")) {
    const std::string_view rest = spec.substr(4);
    const auto comma = rest.find(',');
    if (rest.empty() || comma == 0 || comma + 1 == rest.size())
      throw Error("data spec '" + std::string(spec) +
                  "' must be npy:<features.npy>[,<labels.npy>]");
    return load_npy(std::string(rest.substr(0, comma)),
                    comma == rest.npos ? "" : std::string(rest.substr(comma + 1)), table);
  }
  if (spec.starts_with("npz:")) {
    NpzSpec npz = parse_npz_spec(spec.substr(4));
    if (table.label == "none") npz.labels_if_present = false;  // features only
    return load_npz(npz, table);
  }
  if (spec.starts_with("sqlite:")) {
    if (spec.size() == 7) throw Error("data spec 'sqlite:' needs a path: sqlite:<db-path>");
    return load_sqlite(std::string(spec.substr(7)), table);
  }
  if (spec == "fashion-mnist" || spec == "fashion-mnist:train" || spec == "fashion-mnist:test") {
    const std::string dir = fashion_mnist_dir();
    const std::string prefix = spec == "fashion-mnist:test" ? "/t10k" : "/train";
    try {
      Dataset d =
          load_idx(dir + prefix + "-images-idx3-ubyte.gz", dir + prefix + "-labels-idx1-ubyte.gz");
      d.source = std::string(spec);
      return d;
    } catch (const Error& e) {
      throw Error(std::string(e.what()) +
                  " (Fashion-MNIST comes from Debian's dataset-fashion-mnist package: "
                  "apt-get install dataset-fashion-mnist)");
    }
  }
  if (spec.starts_with("idx:")) {
    const std::string_view rest = spec.substr(4);
    const auto comma = rest.find(',');
    if (comma == std::string_view::npos || comma == 0 || comma + 1 == rest.size())
      throw Error("data spec '" + std::string(spec) + "' must be idx:<images>,<labels>");
    return load_idx(std::string(rest.substr(0, comma)), std::string(rest.substr(comma + 1)));
  }
  if (is_synthetic_name(spec)) return make_synthetic(spec, seed);
  throw Error(
      "unknown data set '" + std::string(spec) +
      "' (expected fashion-mnist, fashion-mnist:test, idx:<images>,<labels>, "
      "csv:<path>, npy:<x.npy>[,<y.npy>], npz:<file.npz>[:<x>[,<y>]], sqlite:<db-path>, xor, "
      "square, blobs8 or linear)");
}

}  // namespace dptrain
