// .npz input (npy.hpp, src/npz.cpp): zip archives of .npy members, stored or deflated, read in
// place when they can be; every damaged archive refused naming the archive and the member.
// (tests/npz_cli_test.sh reads archives numpy writes.)
#include <zlib.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/npy.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

std::string npy(const std::string& descr, const std::string& shape, std::string_view data) {
  return test::npy_file(
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }", data);
}

std::string floats(std::initializer_list<float> v) {
  return std::string(reinterpret_cast<const char*>(std::data(v)), v.size() * sizeof(float));
}

void put(std::string& s, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 255);
}

std::string raw_deflate(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, uLong(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Member {
  std::string name, data;
  bool deflate = false;
  std::size_t extra = 0;  // bytes of local extra field (to move the data's alignment)
};

/// A zip archive as numpy's zipfile writes one: local headers and data, central directory, end.
std::string zip(const std::vector<Member>& members) {
  std::string s, directory;
  for (const Member& m : members) {
    const std::string body = m.deflate ? raw_deflate(m.data) : m.data;
    const std::uint32_t crc =
        std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), uInt(m.data.size())));
    const std::size_t offset = s.size();
    for (std::string* h : {&s, &directory}) {
      const bool central = h == &directory;
      put(*h, central ? 0x02014b50 : 0x04034b50, 4);
      if (central) put(*h, 20, 2);
      put(*h, 20, 2);
      put(*h, 0, 2);
      put(*h, m.deflate ? 8 : 0, 2);
      put(*h, 0, 4);  // time, date
      put(*h, crc, 4);
      put(*h, body.size(), 4);
      put(*h, m.data.size(), 4);
      put(*h, m.name.size(), 2);
      put(*h, central ? 0 : m.extra, 2);
      if (central) {
        put(*h, 0, 6);  // comment length, disk, internal attributes
        put(*h, 0, 4);  // external attributes
        put(*h, offset, 4);
      }
      *h += m.name;
    }
    s += std::string(m.extra, '\0') + body;
  }
  const std::size_t at = s.size();
  s += directory;
  put(s, 0x06054b50, 4);
  put(s, 0, 4);
  put(s, members.size(), 2);
  put(s, members.size(), 2);
  put(s, directory.size(), 4);
  put(s, at, 4);
  put(s, 0, 2);
  return s;
}

const std::string kX = npy("<f4", "(2, 2)", floats({1, 2, 3, 4}));
const std::string kY = npy("<i8", "(2,)", std::string("\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));

std::string error_of(const std::string& bytes, NpzSpec spec = {"a.npz", "", "", true}) {
  try {
    parse_npz(bytes, spec, {});
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::filesystem::path write(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(Npz, StoredAndDeflatedMembersWithDefaultOrNamedArrays) {
  for (bool deflate : {false, true}) {
    const std::string a = zip({{"x.npy", kX, deflate}, {"y.npy", kY, deflate}});
    const Dataset d = parse_npz(a, {"a.npz", "", "", true}, {});
    EXPECT_EQ(d.x, (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0}));
    EXPECT_EQ(d.source, "a.npz:x.npy");
    EXPECT_FALSE(parse_npz(a, {"a.npz", "", "", false}, {}).labelled());
  }
  const std::string upper = zip({{"X.npy", kX}, {"Y.npy", kY}, {"w.npy", kY}});
  EXPECT_EQ(parse_npz(upper, {"a.npz", "", "", true}, {}).labels.size(), 2u);
  EXPECT_EQ(parse_npz(upper, {"a.npz", "X", "w", false}, {}).labels.size(), 2u);
  EXPECT_EQ(error_of(upper, {"a.npz", "X", "z", false}),
            "'a.npz' has no array 'z' (its arrays: X, Y, w)");
  EXPECT_NE(error_of(zip({{"a.npy", kX}})).find("'a.npz' has neither an array 'x' nor 'X'"),
            std::string::npos);
}

TEST(Npz, SpecNamesArraysAfterTheLastColon) {
  const NpzSpec plain = parse_npz_spec("dir:1/d.npz");
  EXPECT_EQ(plain.path, "dir:1/d.npz");
  EXPECT_TRUE(plain.labels_if_present);
  const NpzSpec named = parse_npz_spec("d.npz:X_train,y_train");
  EXPECT_EQ(named.path, "d.npz");
  EXPECT_EQ(named.features, "X_train");
  EXPECT_EQ(named.labels, "y_train");
  EXPECT_FALSE(named.labels_if_present);
  EXPECT_EQ(parse_npz_spec("d.npz:X").labels, "");
  EXPECT_THROW(parse_npz_spec("d.npz:"), Error);
  EXPECT_THROW(parse_npz_spec("d.npz:X,"), Error);
  EXPECT_THROW(parse_npz_spec(":X"), Error);
}

TEST(Npz, MappedMembersAreReadInPlaceWhenAligned) {
  // The float data lies at 30 + 5 (name) + extra + 128 bytes: 4-aligned with 1 byte of extra.
  const auto aligned = write("dptrain_npz_aligned.npz", zip({{"x.npy", kX, false, 1}}));
  const auto odd = write("dptrain_npz_odd.npz", zip({{"x.npy", kX, false, 3}, {"y.npy", kY}}));
  const auto deflated = write("dptrain_npz_deflated.npz", zip({{"x.npy", kX, true, 3}}));
  const Dataset a = load_npz({aligned.string(), "", "", true}, {});
  EXPECT_TRUE(a.x.empty());
  ASSERT_EQ(a.borrowed_x.size(), 4u);
  EXPECT_EQ(a.borrowed_x[3], 4.f);
  const Dataset o = load_npz({odd.string(), "", "", true}, {});  // copied once
  EXPECT_TRUE(o.borrowed_x.empty());
  EXPECT_EQ(o.x, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(o.labels.size(), 2u);
  const Dataset f = load_npz({deflated.string(), "", "", true}, {});  // inflated once, kept
  ASSERT_EQ(f.borrowed_x.size(), 4u);
  EXPECT_NE(f.borrowed_owner, nullptr);
  EXPECT_EQ(f.feature_values()[2], 3.f);
  Dataset labelled = load_npz({aligned.string(), "", "", false}, {});
  attach_npz_labels(labelled, {odd.string(), "", "", false}, {});
  EXPECT_EQ(labelled.labels, (std::vector<std::int32_t>{1, 0}));
  for (const auto& p : {aligned, odd, deflated}) std::filesystem::remove(p);
}

TEST(Npz, DamagedArchivesAreRefusedNamingArchiveAndMember) {
  const std::string good = zip({{"x.npy", kX, true}, {"y.npy", kY}});
  auto has = [](const std::string& message, const std::string& want) {
    return message.find(want) != std::string::npos;
  };
  EXPECT_TRUE(has(error_of(good.substr(0, good.size() - 10)),
                  "'a.npz' is not a .npz file dptrain "
                  "reads: it has no zip end-of-central-"
                  "directory record"));
  EXPECT_TRUE(has(error_of(kX), "it is a .npy file"));
  EXPECT_TRUE(has(error_of(""), "no zip end-of-central-directory record"));
  std::string s = good;  // the directory's offset beyond the file
  s[s.size() - 3] = '\x7f';
  EXPECT_TRUE(has(error_of(s), "its central directory lies outside the file"));
  const std::size_t dir = good.find("PK\1\2");
  s = good;  // the first member flagged encrypted
  s[dir + 8] = 1;
  EXPECT_EQ(error_of(s), "'a.npz:x.npy' is encrypted");
  s = good;  // bzip2
  s[dir + 10] = 12;
  EXPECT_TRUE(has(error_of(s), "'a.npz:x.npy' is compressed with zip method 12"));
  s = good;  // a wrong CRC
  s[dir + 16] ^= 1;
  EXPECT_EQ(error_of(s), "'a.npz:x.npy' fails its CRC-32 check");
  s = good;  // a larger inflated size than the data inflate to
  s[dir + 24] += 1;
  EXPECT_TRUE(has(error_of(s), "'a.npz:x.npy' inflates to "));
  s = good;  // corrupt deflate data: an invalid block type
  s[30 + 5] = '\xff';
  EXPECT_TRUE(has(error_of(s), "'a.npz:x.npy' holds corrupt deflate data"));
  s = good;  // the local header offset of the first member points past it
  s[dir + 42] = 9;
  EXPECT_EQ(error_of(s), "'a.npz:x.npy' has a damaged or missing local header");
  s = good;  // a directory that promises more members than it holds
  s[s.size() - 12] = 9;
  s[s.size() - 14] = 9;
  EXPECT_TRUE(has(error_of(s), "it declares 9 members"));
  // .npy errors inside a member name the archive and the member.
  const std::string short_y =
      zip({{"x.npy", kX}, {"y.npy", npy("<i8", "(1,)", std::string(8, '\0'))}});
  EXPECT_TRUE(
      has(error_of(short_y), "'a.npz:y.npy' holds 1 labels for the 2 rows of 'a.npz:x.npy'"));
  EXPECT_TRUE(
      has(error_of(zip({{"x.npy", kX.substr(0, kX.size() - 1)}})), "'a.npz:x.npy' is truncated"));
  // Names that are not UTF-8 are escaped in messages.
  EXPECT_TRUE(has(error_of(zip({{"a\xff.npy", kX}})), "(its arrays: a\\xFF)"));
  EXPECT_TRUE(has(error_of(zip({{"x.npy", kX}, {"y\xfe.npy", kX}}), {"a.npz", "x", "y\xfe", false}),
                  "'a.npz:y\\xFE.npy' holds"));
}

}  // namespace
}  // namespace dptrain
