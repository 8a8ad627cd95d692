// .npy input (npy.hpp): strict headers, every numeric type, in-place float32 features.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "dptrain/error.hpp"
#include "dptrain/npy.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

/// A .npy file (version 1.0) with `dict` as its header and `data` after it.
std::string npy(const std::string& dict, std::string_view data) {
  return test::npy_file(dict, data);
}

template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string s(values.size() * sizeof(T), '\0');
  std::memcpy(s.data(), std::data(values), s.size());
  return s;
}

std::string error_of(std::string_view x, std::string_view y = {}, TableOptions o = {}) {
  try {
    parse_npy(x, y, "x.npy", "y.npy", o);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Npy, FeaturesAndLabelsOfEveryType) {
  const std::string x = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                            raw({1., 2., 3., 4., 5., 6.}));
  const std::string y =
      npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", raw<std::int64_t>({7, -1}));
  const Dataset d = parse_npy(x, y, "x.npy", "y.npy", {});
  EXPECT_EQ(d.rows, 2u);
  EXPECT_EQ(d.features, 3u);
  EXPECT_EQ(d.x, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(d.classes, 2u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0}));  // sorted: -1 then 7
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"-1", "7"}));
  // Fortran order, big-endian int16, one feature per row from a 1-D array.
  const std::string f = npy("{'shape': (2, 2), 'fortran_order': True, 'descr': '>i2'}",
                            std::string("\0\1\0\2\0\3\0\4", 8));
  EXPECT_EQ(parse_npy(f, {}, "x.npy", "", {}).x, (std::vector<float>{1, 3, 2, 4}));
  const std::string one =
      npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", std::string("\1\2\3", 3));
  EXPECT_EQ(parse_npy(one, {}, "x.npy", "", {}).features, 1u);
  TableOptions regression;
  regression.classification = false;
  const std::string t =
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", raw({0.5f, -2.f}));
  EXPECT_EQ(parse_npy(x, t, "x.npy", "y.npy", regression).targets,
            (std::vector<float>{0.5f, -2.f}));
}

TEST(Npy, HostileHeadersAreRefusedWithWhatIsWrong) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
  const std::string two = raw({1.f, 2.f});
  EXPECT_EQ(error_of(npy(ok, two)), "no error");
  EXPECT_NE(error_of("PK\3\4").find("no \\x93NUMPY magic"), std::string::npos);
  EXPECT_NE(error_of(npy(ok, two).substr(0, 9)).find("preamble"), std::string::npos);
  // Bytes that are not UTF-8 are escaped in messages.
  EXPECT_NE(error_of(npy("\xff", two)).find("its header has '\\xFF' where '{' belongs"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'d\xe9': 1}", two)).find("unexpected or repeated key 'd\\xE9'"),
            std::string::npos);
  EXPECT_NE(error_of(npy(ok, two.substr(4))).find("is truncated: its float32 (1, 2) array needs 8"),
            std::string::npos);
  EXPECT_NE(error_of(npy(ok, two + "x")).find("has trailing bytes"), std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", ""))
                .find("has type '|O'"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", ""))
                .find("not a quoted name"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'descr': '<f4', 'shape': (1,)}", "")).find("repeated"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}", ""))
                .find("more than 2 dimensions"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2)}", ""))
                .find("whole numbers"),
            std::string::npos);
  EXPECT_NE(
      error_of(
          npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", ""))
          .find("absurd shape"),
      std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)} x", two))
                .find("text after the header dict"),
            std::string::npos);
  EXPECT_NE(error_of(npy(ok, raw({1.f, std::numeric_limits<float>::infinity()}))).find("Inf"),
            std::string::npos);
  const std::string y3 =
      npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", raw({0, 1, 1}));
  EXPECT_NE(error_of(npy(ok, two), y3).find("'y.npy' holds 3 labels for the 1 rows of 'x.npy'"),
            std::string::npos);
}

TEST(Npy, Float32FeaturesAreMappedInPlace) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string x = (dir / "dptrain_npy_x.npy").string(),
                    y = (dir / "dptrain_npy_y.npy").string();
  std::ofstream(x, std::ios::binary) << npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", raw({1.f, 2.f, 3.f, 4.f}));
  std::ofstream(y, std::ios::binary)
      << npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", std::string("\1\0", 2));
  Dataset d = load_npy(x, y, {});
  EXPECT_TRUE(d.x.empty());
  ASSERT_EQ(d.borrowed_x.size(), 4u);
  EXPECT_EQ(d.borrowed_x[3], 4.f);
  EXPECT_NE(d.borrowed_owner, nullptr);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0}));
  const Dataset copy = d;  // copies share the mapping
  d = Dataset();
  EXPECT_EQ(copy.feature_values()[2], 3.f);
  std::filesystem::remove(x);
  std::filesystem::remove(y);
}

}  // namespace
}  // namespace dptrain
