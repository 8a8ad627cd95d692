#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace dptrain {
namespace {

namespace fs = std::filesystem;
using test::gzip_member;

std::vector<unsigned char> idx_header(unsigned char type_dims, std::vector<std::uint32_t> dims) {
  std::vector<unsigned char> h = {0, 0, 0x08, type_dims};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<unsigned char>(d >> s));
  return h;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dptrain_idx_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::vector<unsigned char>& bytes,
                    bool gzip = false) {
    const std::string path = (dir_ / name).string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), unsigned(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    return path;
  }
  /// 3 images of 2x2 pixels and their labels.
  std::pair<std::vector<unsigned char>, std::vector<unsigned char>> sample() {
    auto img = idx_header(3, {3, 2, 2});
    for (int i = 0; i < 12; ++i) img.push_back(static_cast<unsigned char>(i * 20));
    auto lbl = idx_header(1, {3});
    lbl.insert(lbl.end(), {7, 0, 9});
    return {img, lbl};
  }
  std::string error_of(const std::string& images, const std::string& labels) {
    try {
      load_idx(images, labels);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  fs::path dir_;
};

TEST_F(IdxTest, ReadsPlainAndGzipAlike) {
  auto [img, lbl] = sample();
  for (bool gz : {false, true}) {
    const Dataset d = load_idx(write("img", img, gz), write("lbl", lbl, gz));
    EXPECT_EQ(d.rows, 3u);
    EXPECT_EQ(d.features, 4u);
    EXPECT_EQ(d.classes, 10u);
    EXPECT_EQ(d.labels, (std::vector<std::int32_t>{7, 0, 9}));
    EXPECT_FLOAT_EQ(d.x[5], 100.0f / 255.0f);  // pixels scaled to [0, 1]
  }
}

TEST_F(IdxTest, ClearErrors) {
  auto [img, lbl] = sample();
  const std::string good_img = write("img", img), good_lbl = write("lbl", lbl);
  EXPECT_NE(error_of(dir_ / "missing", good_lbl).find("cannot open"), std::string::npos);
  EXPECT_NE(error_of(dir_ / "missing", good_lbl).find("missing"), std::string::npos);
  // Labels given as images: wrong magic.
  EXPECT_NE(error_of(good_lbl, good_lbl).find("IDX magic"), std::string::npos);
  auto truncated = img;
  truncated.resize(img.size() - 3);
  EXPECT_NE(error_of(write("trunc", truncated), good_lbl).find("truncated"), std::string::npos);
  auto more_labels = idx_header(1, {4});
  more_labels.insert(more_labels.end(), {1, 2, 3, 4});
  EXPECT_NE(error_of(good_img, write("lbl4", more_labels)).find("3 images"), std::string::npos);
  EXPECT_NE(error_of(write("empty", {}), good_lbl).find("too short"), std::string::npos);
  // gzip with its middle corrupted.
  write("gz", img, true);
  std::vector<unsigned char> gz;
  {
    std::ifstream f(dir_ / "gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(f), {});
  }
  for (std::size_t i = 12; i + 8 < gz.size(); ++i) gz[i] ^= 0x5a;
  EXPECT_NE(error_of(write("bad.gz", gz), good_lbl).find("cannot read"), std::string::npos);
}

TEST_F(IdxTest, EveryGzipMemberIsReadTrailingBytesAreRefused) {
  auto [img, lbl] = sample();
  const std::string plain_img(img.begin(), img.end()), plain_lbl(lbl.begin(), lbl.end());
  // Concatenated members are one gzip file (what `cat a.gz b.gz` or pigz --independent give).
  const std::string two = gzip_member(plain_img.substr(0, 9)) + gzip_member(plain_img.substr(9));
  const std::string lbl_gz = gzip_member(plain_lbl);
  const Dataset d = parse_idx(two, lbl_gz, "img.gz", "lbl.gz");
  EXPECT_EQ(d.rows, 3u);
  EXPECT_FLOAT_EQ(d.x[5], 100.0f / 255.0f);
  auto error = [&](const std::string& images) {
    try {
      parse_idx(images, lbl_gz, "img.gz", "lbl.gz");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error(gzip_member(plain_img) + "junk")
                .find("cannot read 'img.gz': 4 bytes of trailing data after gzip member 1"),
            std::string::npos)
      << error(gzip_member(plain_img) + "junk");
  EXPECT_NE(error(two + std::string(3, '\0')).find("after gzip member 2"), std::string::npos);
  const std::string cut = gzip_member(plain_img.substr(9));
  EXPECT_NE(error(gzip_member(plain_img.substr(0, 9)) + cut.substr(0, cut.size() / 2))
                .find("truncated gzip data"),
            std::string::npos);
}

TEST(Dataset, ValidateNamesTheBadRow) {
  Dataset d = make_synthetic("blobs8", 1);
  d.x[8 * 4 + 2] = std::nanf("");
  try {
    d.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 5, feature 3 is NaN"), std::string::npos) << e.what();
  }
  Dataset l = make_synthetic("xor", 1);
  l.labels[2] = 5;
  EXPECT_THROW(l.validate(), Error);
  Dataset r = make_synthetic("square", 1);
  r.targets[3] = INFINITY;
  try {
    r.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "data 'square': row 4 has an infinite target");
  }
}

/// The same data with its features borrowed from `values` instead of owned.
Dataset borrowing(const Dataset& owned, const std::vector<float>& values) {
  Dataset d = owned;
  d.x.clear();
  d.borrowed_x = values;
  return d;
}

TEST(Dataset, BorrowedFeaturesReadLikeOwnedOnesAndAreCopiedBeforeAnyChange) {
  // Note [Borrowed features].
  const Dataset owned = make_synthetic("blobs8", 1);
  const std::vector<float> values = owned.x;
  Dataset d = borrowing(owned, values);
  EXPECT_TRUE(d.x.empty());
  EXPECT_EQ(d.feature_values().data(), values.data());
  d.validate();
  EXPECT_EQ(d.head(3).x, std::vector<float>(values.begin(), values.begin() + 24));
  // In-place scaling copies first: the caller's values stay as they were.
  const Normalizer n = Normalizer::fit(Normalization::standard, d);
  Dataset scaled = d;
  n.apply(scaled);
  EXPECT_TRUE(scaled.borrowed_x.empty());
  EXPECT_EQ(values, make_synthetic("blobs8", 1).x);
  EXPECT_NE(scaled.x, values);
  // A NaN in borrowed values is found like one in owned ones.
  std::vector<float> bad = values;
  bad[8 * 4 + 2] = std::nanf("");
  EXPECT_THROW(borrowing(owned, bad).validate(), Error);
  Dataset both = borrowing(owned, values);
  both.x = values;
  try {
    both.validate();
    FAIL() << "x and borrowed_x both set";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("features given twice"), std::string::npos) << e.what();
  }
}

TEST(Dataset, TrainingOnBorrowedFeaturesGivesTheSameBits) {
  const Dataset owned = make_synthetic("blobs8", 3);
  const std::vector<float> values = owned.x;
  auto train = [](const Dataset& data) {
    Model<float> model(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
    model.initialize(1);
    TrainConfig config;
    config.epochs = 3;
    config.threads = 2;
    Trainer trainer(model, config);
    trainer.fit(data);
    const auto p = model.parameters();
    return std::vector<float>(p.begin(), p.end());
  };
  EXPECT_EQ(train(owned), train(borrowing(owned, values)));
}

TEST(Synthetic, ShapesAndSeeding) {
  EXPECT_EQ(make_synthetic("xor", 1).rows, 4u);
  const Dataset sq = make_synthetic("square", 3);
  EXPECT_EQ(sq.rows, 100u);
  for (std::size_t i = 0; i < sq.rows; ++i) EXPECT_FLOAT_EQ(sq.targets[i], sq.x[i] * sq.x[i]);
  const Dataset b = make_synthetic("blobs8", 3);
  EXPECT_EQ(b.rows, 768u);
  EXPECT_EQ(b.features, 8u);
  std::size_t positives = 0;
  for (auto l : b.labels) positives += l;
  EXPECT_GT(positives, 768u * 25 / 100);
  EXPECT_LT(positives, 768u * 45 / 100);
  EXPECT_EQ(make_synthetic("linear", 3).x, make_synthetic("linear", 3).x);
  EXPECT_NE(make_synthetic("linear", 3).x, make_synthetic("linear", 4).x);
  EXPECT_THROW(load_dataset("mnist-ish", 1), Error);
  EXPECT_THROW(load_dataset("idx:onlyone", 1), Error);
}

}  // namespace
}  // namespace dptrain
