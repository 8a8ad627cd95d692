// .npz archives: zip files of .npy members (numpy.savez stores them, numpy.savez_compressed
// deflates them).
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/npy.hpp"
#include "dptrain/utf8.hpp"
#include "mapped_file.hpp"

namespace dptrain {

// Note [Npz archives]. A .npz file is a zip archive whose members are .npy files named after
// the arrays ("x.npy"). It is read from its central directory, found through the
// end-of-central-directory record at the end of the file (and its zip64 record, which numpy
// writes for large archives): each member's name, method, CRC-32, sizes and local header
// offset, with the zip64 extra field where a size or offset does not fit 32 bits. Only the
// members named are then read: a stored one (method 0, numpy.savez) is its .npy bytes where
// they lie in the file, mapped and read in place when float32 C-order (its data may start at
// any byte in the archive: a float32 array not 4-aligned there is copied once); a deflated one
// (method 8, numpy.savez_compressed) is inflated once into memory of exactly the size its
// directory entry promises (checked against the memory there is first: no zip bomb inflates
// further), and its CRC-32 checked. A stored member's CRC is not checked: that would read the
// whole file before the first step; the .npy header and exact-size checks still apply. Every
// other method, encryption, a multi-disk archive, and any offset or size pointing outside the
// file is refused naming the archive and the member.

namespace {

std::uint64_t le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error("'" + path + "' is not a .npz file dptrain reads: " + what);
}

[[noreturn]] void bad_member(const std::string& path, const std::string& member,
                             const std::string& what) {
  throw Error("'" + path + ":" + escape_invalid_utf8(member) + "' " + what);
}

constexpr std::uint32_t kEnd = 0x06054b50, kEnd64 = 0x06064b50, kLocator64 = 0x07064b50,
                        kEntry = 0x02014b50, kLocal = 0x04034b50;

struct Directory {
  std::uint64_t entries = 0, size = 0, offset = 0, end = 0;  // end: where the directory must end
};

/// The central directory's place, from the end record (and the zip64 one when it is used).
Directory find_directory(std::string_view bytes, const std::string& path) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  if (n >= 6 && bytes.starts_with("\x93NUMPY")) bad(path, "it is a .npy file (read it as npy:)");
  std::size_t at = SIZE_MAX;  // the end record: its comment reaches exactly the file's end
  for (std::size_t p = n >= 22 ? n - 22 : SIZE_MAX; p != SIZE_MAX && n - p <= 22 + 0xffff; --p)
    if (le(b + p, 4) == kEnd && p + 22 + le(b + p + 20, 2) == n) {
      at = p;
      break;
    } else if (p == 0) {
      break;
    }
  if (at == SIZE_MAX)
    bad(path, "it has no zip end-of-central-directory record (not a zip archive, or truncated)");
  if (le(b + at + 4, 2) != 0 || le(b + at + 6, 2) != 0) bad(path, "it is a multi-disk archive");
  Directory d{le(b + at + 10, 2), le(b + at + 12, 4), le(b + at + 16, 4), at};
  if (d.entries == 0xffff || d.size == 0xffffffff || d.offset == 0xffffffff) {
    if (at < 20 || le(b + at - 20, 4) != kLocator64)
      bad(path, "its end record needs a zip64 record and none precedes it");
    const std::uint64_t z = le(b + at - 20 + 8, 8);
    if (z > at - 20 || at - 20 - z < 56 || le(b + z, 4) != kEnd64)
      bad(path, "its zip64 end record is missing or damaged");
    d = {le(b + z + 32, 8), le(b + z + 40, 8), le(b + z + 48, 8), z};
  }
  if (d.offset > d.end || d.size > d.end - d.offset)
    bad(path, "its central directory lies outside the file");
  if (d.entries > d.size / 46)
    bad(path, "it declares " + std::to_string(d.entries) +
                  " members, more than its central directory holds");
  return d;
}

/// Sizes and offset a zip64 extra field replaces (those saturated at 0xffffffff, in order).
void read_zip64_extra(std::string_view extra, NpzMember& m, const std::string& path) {
  const auto* b = reinterpret_cast<const unsigned char*>(extra.data());
  for (std::size_t p = 0; p + 4 <= extra.size();) {
    const std::size_t id = le(b + p, 2), len = le(b + p + 2, 2);
    if (p + 4 + len > extra.size()) break;
    if (id == 1) {
      std::size_t q = p + 4;
      for (std::uint64_t* field : {&m.size, &m.compressed, &m.header_offset}) {
        if (*field != 0xffffffff) continue;
        if (q + 8 > p + 4 + len) bad_member(path, m.name, "has a short zip64 extra field");
        *field = le(b + q, 8);
        q += 8;
      }
      return;
    }
    p += 4 + len;
  }
}

}  // namespace

std::vector<NpzMember> npz_members(std::string_view bytes, const std::string& path) {
  const Directory d = find_directory(bytes, path);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<NpzMember> members;
  std::uint64_t p = d.offset;
  const std::uint64_t end = d.offset + d.size;
  for (std::uint64_t i = 0; i < d.entries; ++i) {
    if (end - p < 46 || le(b + p, 4) != kEntry)
      bad(path, "central directory entry " + std::to_string(i + 1) + " is damaged");
    const std::uint64_t name = le(b + p + 28, 2), extra = le(b + p + 30, 2),
                        comment = le(b + p + 32, 2);
    if (end - p - 46 < name + extra + comment)
      bad(path, "central directory entry " + std::to_string(i + 1) + " runs past the directory");
    NpzMember m;
    m.name = std::string(bytes.substr(p + 46, name));
    m.flags = std::uint16_t(le(b + p + 8, 2));
    m.method = std::uint16_t(le(b + p + 10, 2));
    m.crc = std::uint32_t(le(b + p + 16, 4));
    m.compressed = le(b + p + 20, 4);
    m.size = le(b + p + 24, 4);
    m.header_offset = le(b + p + 42, 4);
    read_zip64_extra(bytes.substr(p + 46 + name, extra), m, path);
    members.push_back(std::move(m));
    p += 46 + name + extra + comment;
  }
  return members;
}

NpzSpec parse_npz_spec(std::string_view rest) {
  NpzSpec s;
  const std::size_t colon = rest.rfind(':');
  const bool names = colon != rest.npos && rest.find('/', colon) == rest.npos;
  s.path = std::string(rest.substr(0, names ? colon : rest.size()));
  if (s.path.empty()) throw Error("data spec 'npz:" + std::string(rest) + "' needs a path");
  if (!names) {
    s.labels_if_present = true;
    return s;
  }
  const std::string_view list = rest.substr(colon + 1);
  const std::size_t comma = list.find(',');
  s.features = std::string(list.substr(0, comma));
  if (comma != list.npos) s.labels = std::string(list.substr(comma + 1));
  if (s.features.empty() || (comma != list.npos && s.labels.empty()) ||
      s.labels.find(',') != s.labels.npos)
    throw Error("data spec 'npz:" + std::string(rest) +
                "' must be npz:<file.npz>[:<features>[,<labels>]]");
  return s;
}

namespace {

/// The member holding array `name` ("x" is member "x.npy"), or null.
const NpzMember* find_array(const std::vector<NpzMember>& members, const std::string& name,
                            const std::string& path) {
  const NpzMember* found = nullptr;
  for (const NpzMember& m : members)
    if (m.name == name + ".npy" || m.name == name) {
      if (found) bad(path, "it has two members for array '" + name + "'");
      found = &m;
    }
  return found;
}

std::string array_list(const std::vector<NpzMember>& members) {
  std::string s;
  for (const NpzMember& m : members)
    s += (s.empty() ? "" : ", ") + escape_invalid_utf8(m.name.ends_with(".npy")
                                                           ? m.name.substr(0, m.name.size() - 4)
                                                           : m.name);
  return s.empty() ? "none" : s;
}

/// The member of array `name`, or with `name` empty of the first of `defaults` there; null
/// when `optional` and none is there, else an Error listing the arrays.
const NpzMember* pick(const std::vector<NpzMember>& members, const std::string& name,
                      std::initializer_list<const char*> defaults, bool optional,
                      const std::string& path) {
  if (!name.empty()) {
    if (const NpzMember* m = find_array(members, name, path)) return m;
    throw Error("'" + path + "' has no array '" + name + "' (its arrays: " + array_list(members) +
                ")");
  }
  for (const char* d : defaults)
    if (const NpzMember* m = find_array(members, d, path)) return m;
  if (optional) return nullptr;
  throw Error("'" + path + "' has neither an array '" + *defaults.begin() + "' nor '" +
              *(defaults.begin() + 1) + "' (its arrays: " + array_list(members) +
              "); name the arrays: npz:<file.npz>:<features>[,<labels>]");
}

/// Inflates a raw deflate stream into exactly `out.size()` bytes.
void inflate_member(std::string_view in, std::span<char> out, const NpzMember& m,
                    const std::string& path) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) bad_member(path, m.name, "cannot be inflated");
  int rc = Z_OK;
  std::size_t in_at = 0, out_at = 0;
  while (rc == Z_OK) {  // Z_OK: progress made; Z_BUF_ERROR: none possible (input or room gone)
    const std::size_t give = std::min<std::size_t>(in.size() - in_at, UINT_MAX);
    const std::size_t room = std::min<std::size_t>(out.size() - out_at, UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_at));
    z.avail_in = uInt(give);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + out_at);
    z.avail_out = uInt(room);
    rc = inflate(&z, Z_NO_FLUSH);
    in_at += give - z.avail_in;
    out_at += room - z.avail_out;
  }
  const std::string zmsg = z.msg ? z.msg : "";
  inflateEnd(&z);
  if (rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR || rc == Z_NEED_DICT)
    bad_member(path, m.name, "holds corrupt deflate data (zlib: " + zmsg + ")");
  if (rc != Z_STREAM_END || out_at != out.size())
    bad_member(path, m.name,
               "inflates to " + std::string(rc == Z_STREAM_END ? "" : "more or less than ") +
                   (rc == Z_STREAM_END ? std::to_string(out_at) + " bytes, not " : "") + "the " +
                   std::to_string(out.size()) + " bytes its directory entry says");
  const uLong crc = crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size());
  if (crc != m.crc) bad_member(path, m.name, "fails its CRC-32 check");
}

/// A member's .npy bytes: in place when stored, else inflated into `*owner`'s memory.
std::string_view member_bytes(std::string_view archive, const NpzMember& m, const std::string& path,
                              std::shared_ptr<const void>* owner) {
  const auto* b = reinterpret_cast<const unsigned char*>(archive.data());
  if (m.flags & 1) bad_member(path, m.name, "is encrypted");
  if (m.method != 0 && m.method != 8)
    bad_member(path, m.name,
               "is compressed with zip method " + std::to_string(m.method) +
                   "; dptrain reads stored and deflated members (numpy.savez, "
                   "numpy.savez_compressed)");
  const std::uint64_t h = m.header_offset;
  if (h > archive.size() || archive.size() - h < 30 || le(b + h, 4) != kLocal)
    bad_member(path, m.name, "has a damaged or missing local header");
  const std::uint64_t data = h + 30 + le(b + h + 26, 2) + le(b + h + 28, 2);
  if (data > archive.size() || archive.size() - data < m.compressed)
    bad_member(path, m.name, "is truncated: its data runs past the end of the archive");
  const std::string_view raw = archive.substr(data, m.compressed);
  if (m.method == 0) {
    if (m.compressed != m.size)
      bad_member(path, m.name, "is stored with two different sizes in its directory entry");
    return raw;
  }
  // Deflate expands at most 1032:1 (a 258-byte match in under 2 bits): a larger declared size
  // cannot be the member's, and nothing is allocated for it.
  if (m.size / 1032 > m.compressed + 64)
    bad_member(path, m.name,
               "declares " + std::to_string(m.size) + " bytes, more than its " +
                   std::to_string(m.compressed) + " bytes of deflate data can hold");
  check_fits_memory(double(m.size), "'" + path + ":" + m.name + "' inflated", ErrorTopic::none);
  // Floats, so that a float32 array after its 64-byte-padded .npy header is aligned; not
  // zeroed: inflate writes every byte or the member is refused.
  const std::shared_ptr<float[]> buffer(new float[std::max<std::uint64_t>(1, (m.size + 3) / 4)]);
  inflate_member(raw, std::span(reinterpret_cast<char*>(buffer.get()), m.size), m, path);
  *owner = buffer;
  return {reinterpret_cast<const char*>(buffer.get()), m.size};
}

Dataset read_npz(std::string_view bytes, std::shared_ptr<const void> map, const NpzSpec& spec,
                 const TableOptions& options) {
  const std::vector<NpzMember> members = npz_members(bytes, spec.path);
  const NpzMember* x = pick(members, spec.features, {"x", "X"}, false, spec.path);
  const NpzMember* y =
      spec.labels.empty() && !spec.labels_if_present
          ? nullptr
          : pick(members, spec.labels, {"y", "Y"}, spec.labels_if_present, spec.path);
  std::shared_ptr<const void> inflated;
  const std::string_view xb = member_bytes(bytes, *x, spec.path, &inflated);
  // In place from the map or the inflated memory; parse_npz (no map) copies.
  Dataset d = npy_features(xb, spec.path + ":" + escape_invalid_utf8(x->name),
                           !map       ? nullptr
                           : inflated ? inflated
                                      : map);
  d.borrowed_from_file = map && !inflated && !d.borrowed_x.empty();
  if (y) {
    std::shared_ptr<const void> labels_owner;
    const std::string_view yb = member_bytes(bytes, *y, spec.path, &labels_owner);
    set_npy_labels(d, yb, spec.path + ":" + escape_invalid_utf8(y->name), options);
  }
  d.validate();
  return d;
}

}  // namespace

Dataset parse_npz(std::string_view bytes, const NpzSpec& spec, const TableOptions& options) {
  return read_npz(bytes, nullptr, spec, options);
}

Dataset load_npz(const NpzSpec& spec, const TableOptions& options) {
  const auto m = detail::MappedFile::open(spec.path, "a .npz file");
  return read_npz(m->bytes(), m, spec, options);
}

void attach_npz_labels(Dataset& data, const NpzSpec& spec, const TableOptions& options) {
  const auto map = detail::MappedFile::open(spec.path, "a .npz file");
  const std::vector<NpzMember> members = npz_members(map->bytes(), spec.path);
  const NpzMember* y = pick(members, spec.labels, {"y", "Y"}, false, spec.path);
  std::shared_ptr<const void> owner;
  const std::string_view yb = member_bytes(map->bytes(), *y, spec.path, &owner);
  set_npy_labels(data, yb, spec.path + ":" + escape_invalid_utf8(y->name), options);
}

}  // namespace dptrain
