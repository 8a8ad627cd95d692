#include "dptrain/csv_cache.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "mapped_file.hpp"

namespace dptrain {

// Note [CSV cache]. Parsing a large CSV costs seconds every run, and its float32 matrix must
// then fit in memory; a binary cache costs one parse and is mapped like a .npy file (so
// --shuffle window trains from it when it is larger than memory). The cache is "DPTCACHE", a
// version, the length of a JSON header and the header (the key, rows, features, classes,
// target width, schema), padded to 64 bytes, then the features (rows x features float32,
// row-major), then the labels (int32) or targets (float32). The key is the CSV's path as
// given, size, modification time in nanoseconds, device and inode, and every table option that
// changes what the rows mean (label, header, delimiter, skipped rows, classification, the
// model's classes, inputs and schema): a cache whose key differs, or whose size is not exactly
// what its header promises, is written again from the CSV. A file at the cache path that does
// not start with the magic is never overwritten: it may be the user's data. The cache is
// written to a temporary file beside it and renamed over it, so a run killed while writing
// leaves the old cache or none, never half of one.

namespace {

constexpr std::string_view kMagic = "DPTCACHE";
constexpr std::uint32_t kVersion = 1;
using json = nlohmann::json;

std::string cache_key(const std::string& csv, const TableOptions& o) {
  struct stat st;
  if (::stat(csv.c_str(), &st) != 0)
    throw Error("cannot open '" + csv + "': " + std::strerror(errno));
  json k = {{"csv", csv},
            {"size", std::uint64_t(st.st_size)},
            {"mtime_ns", std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec},
            {"dev", std::uint64_t(st.st_dev)},
            {"ino", std::uint64_t(st.st_ino)},
            {"label", o.label},
            {"header", int(o.header)},
            {"delimiter", int(o.delimiter)},
            {"skip_rows", o.skip_rows},
            {"classification", o.classification},
            {"model_classes", o.model_classes},
            {"model_inputs", o.model_inputs}};
  if (o.model_schema)
    k["model_schema"] = {o.model_schema->feature_names, o.model_schema->label_column,
                         o.model_schema->class_names, int(o.model_schema->task)};
  return k.dump();
}

std::size_t padded(std::size_t n) {
  return (n + 63) / 64 * 64;
}

/// The cache's data when `map` is a whole, valid cache with key `key`; an empty Dataset
/// otherwise (to be written again).
Dataset read_cache(const std::shared_ptr<detail::MappedFile>& map, const std::string& key,
                   const std::string& csv) try {
  const std::string_view b = map->bytes();
  std::uint64_t length = 0;
  if (b.size() < 24) return {};
  std::memcpy(&length, b.data() + 16, 8);
  if (length > b.size() - 24) return {};
  const json h = json::parse(b.substr(24, length), nullptr, false);
  if (h.is_discarded() || !h.is_object() || h.value("key", "") != key) return {};
  Dataset d;
  d.source = csv;
  d.rows = h.at("rows").get<std::size_t>();
  d.features = h.at("features").get<std::size_t>();
  d.classes = h.at("classes").get<std::size_t>();
  d.target_width = h.at("target_width").get<std::size_t>();
  const std::size_t start = padded(24 + length);
  std::size_t cells = 0, tail = 0;
  if (__builtin_mul_overflow(d.rows, d.features, &cells) ||
      __builtin_mul_overflow(d.rows, d.classes ? 1 : d.target_width, &tail) || cells > b.size() ||
      tail > b.size() || b.size() != start + 4 * (cells + tail))
    return {};
  d.borrowed_x = {reinterpret_cast<const float*>(b.data() + start), cells};
  d.borrowed_owner = map;
  d.borrowed_from_file = true;
  const char* after = b.data() + start + 4 * cells;
  if (d.classes) {
    d.labels.resize(d.rows);
    std::memcpy(d.labels.data(), after, 4 * tail);
  } else {
    d.targets.resize(tail);
    std::memcpy(d.targets.data(), after, 4 * tail);
  }
  const json& s = h.at("schema");
  d.schema.task = parse_task(s.at("task").get<std::string>());
  d.schema.feature_names = s.at("feature_names").get<std::vector<std::string>>();
  d.schema.label_column = s.at("label_column").get<std::string>();
  d.schema.class_names = s.at("class_names").get<std::vector<std::string>>();
  d.validate();
  return d;
} catch (const std::exception&) {  // a header of other types, labels out of range, ...
  return {};
}

void write_all(int fd, const void* data, std::size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, std::min<std::size_t>(bytes, std::size_t(1) << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write the cache '" + path + "': " + std::strerror(errno));
    p += n, bytes -= std::size_t(n);
  }
}

void write_cache(const Dataset& d, const std::string& key, const std::string& path) {
  const json h = {{"key", key},
                  {"rows", d.rows},
                  {"features", d.features},
                  {"classes", d.classes},
                  {"target_width", d.target_width},
                  {"schema",
                   {{"task", task_name(d.schema.task)},
                    {"feature_names", d.schema.feature_names},
                    {"label_column", d.schema.label_column},
                    {"class_names", d.schema.class_names}}}};
  std::string head(kMagic);
  head.append(reinterpret_cast<const char*>(&kVersion), 4).append(4, '\0');
  const std::string text = h.dump();
  const std::uint64_t length = text.size();
  head.append(reinterpret_cast<const char*>(&length), 8).append(text);
  head.resize(padded(head.size()), ' ');
  remove_stale_temporaries(path);
  const std::string tmp = output_target(path) + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write the cache '" + path + "': " + std::strerror(errno));
  try {
    write_all(fd, head.data(), head.size(), path);
    const std::span<const float> x = d.feature_values();
    write_all(fd, x.data(), x.size_bytes(), path);
    if (d.classes)
      write_all(fd, d.labels.data(), d.labels.size() * 4, path);
    else
      write_all(fd, d.targets.data(), d.targets.size() * 4, path);
    if (::fsync(fd) != 0 || ::close(fd) != 0)
      throw Error("cannot write the cache '" + path + "': " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), output_target(path).c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write the cache '" + path + "': " + std::strerror(err));
  }
}

}  // namespace

Dataset load_csv_cached(const std::string& csv_path, const std::string& cache_path,
                        const TableOptions& options, const CsvProgress& progress, CacheUse* use) {
  if (same_output(csv_path, cache_path))
    throw Error("--cache '" + cache_path + "' is the CSV file itself");
  const std::string key = cache_key(csv_path, options);
  struct stat st;
  if (::stat(cache_path.c_str(), &st) == 0) {
    const auto map = detail::MappedFile::open(cache_path, "a cache");
    if (!map->bytes().starts_with(kMagic))
      throw Error("'" + cache_path +
                  "' exists and is not a dptrain cache: it is not overwritten (give --cache "
                  "a new path)");
    Dataset d = read_cache(map, key, csv_path);
    if (d.rows > 0) {
      if (use) *use = CacheUse::read;
      return d;
    }
  }
  write_cache(load_csv(csv_path, options, progress), key, cache_path);
  if (use) *use = CacheUse::written;
  Dataset d = read_cache(detail::MappedFile::open(cache_path, "a cache"), key, csv_path);
  if (d.rows == 0) throw Error("the cache '" + cache_path + "' changed while it was written");
  return d;
}

}  // namespace dptrain
