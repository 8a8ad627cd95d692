// Note [Sparse rows]: CSR matrices gathered per minibatch train to the bits of dense data.
#include "dptrain/sparse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.hpp"

namespace dptrain {
namespace {

/// The CSR form of a dense rows x cols matrix (zeros left out).
struct Csr {
  std::vector<std::int64_t> indptr{0}, indices;
  std::vector<float> values;
  CsrMatrix view(std::size_t rows, std::size_t cols) const {
    CsrMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.indptr = indptr;
    m.indices = indices;
    m.values = values;
    return m;
  }
};

Csr to_csr(std::span<const float> dense, std::size_t rows, std::size_t cols) {
  Csr c;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < cols; ++j)
      if (dense[r * cols + j] != 0.0f) {
        c.indices.push_back(std::int64_t(j));
        c.values.push_back(dense[r * cols + j]);
      }
    c.indptr.push_back(std::int64_t(c.indices.size()));
  }
  return c;
}

std::string error_of(const CsrMatrix& m) {
  try {
    m.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Sparse, GatherWritesTheDenseRowsAndAddsDuplicateColumns) {
  // Rows: [0 2 0], [1 0 0], [0 0 0], [3 + 4 at column 2 twice]
  const Csr c{{0, 1, 2, 2, 4}, {1, 0, 2, 2}, {2.f, 1.f, 3.f, 4.f}};
  const CsrMatrix m = c.view(4, 3);
  m.validate();
  std::vector<float> out(9, -1.0f);
  const std::vector<std::uint32_t> rows{3, 0, 2};
  m.gather(rows, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 0, 7, 0, 2, 0, 0, 0, 0}));
}

TEST(Sparse, ValidateNamesTheFirstBadRow) {
  Csr c{{0, 1, 2}, {1, 3}, {1.f, 2.f}};
  EXPECT_EQ(error_of(c.view(2, 3)), "sparse matrix: row 2 has column index 3, outside 0..2");
  c.indices[1] = 0;
  c.values[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(error_of(c.view(2, 3)), "sparse matrix: row 1, column 2 holds NaN");
  EXPECT_EQ(error_of(Csr{{0, 2, 1}, {0, 1}, {1.f, 1.f}}.view(2, 3)),
            "sparse matrix: indptr decreases at row 2 (2 then 1)");
  EXPECT_EQ(error_of(Csr{{0, 1}, {0, 1}, {1.f, 1.f}}.view(1, 3)),
            "sparse matrix: indptr ends at 1 but there are 2 indices and 2 values");
  EXPECT_EQ(error_of(Csr{{0, 1}, {0}, {1.f}}.view(2, 3)),
            "sparse matrix: indptr holds 2 offsets for 2 rows (expected rows + 1)");
}

Dataset labels_only(const Dataset& d) {
  Dataset l = d;
  l.x.clear();
  l.borrowed_x = {};
  l.features = 0;
  return l;
}

TEST(Sparse, TrainsToTheBitsOfTheSameRowsDense) {
  // blobs8 with most values zeroed: a sparse matrix, and the same values dense.
  Dataset dense = make_synthetic("blobs8", 3).head(300);
  dense.own_features();
  for (std::size_t i = 0; i < dense.x.size(); ++i)
    if (i % 3 != 0) dense.x[i] = 0.0f;
  const Csr csr = to_csr(dense.x, dense.rows, dense.features);
  for (const std::size_t threads : {1u, 2u}) {
    TrainConfig c;
    c.loss = Loss::bce;
    c.batch_size = 32;  // 300 rows: a last partial batch
    c.epochs = 3;
    c.threads = threads;
    c.min_flops_per_worker = 0;
    c.schedule.kind = ScheduleKind::cosine;  // steps placed by rows_per_epoch from epoch 1
    const ModelSpec spec = ModelSpec::mlp({8, 16, 1}, Activation::relu, Activation::sigmoid);
    Model<float> a(spec), b(spec);
    a.initialize(c.seed);
    b.initialize(c.seed);
    Trainer ta(a, c), tb(b, c);
    CsrBatchSource source(csr.view(dense.rows, dense.features), labels_only(dense), c.seed,
                          c.shuffle);
    for (std::size_t e = 0; e < c.epochs; ++e) {
      const EpochResult ra = ta.train_epoch(dense), rb = tb.train_epoch(source);
      EXPECT_EQ(ra.steps, rb.steps);
      EXPECT_EQ(ra.train_loss, rb.train_loss) << "epoch " << e + 1;
      EXPECT_EQ(ra.learning_rate, rb.learning_rate) << "epoch " << e + 1;
    }
    EXPECT_EQ(params_hash<float>(a.parameters()), params_hash<float>(b.parameters()))
        << threads << " threads";
  }
}

TEST(Sparse, LabelsMustMatchTheRows) {
  const Csr c{{0, 1, 1}, {0}, {1.f}};
  Dataset labels;
  labels.classes = 2;
  labels.labels = {0, 1, 1};
  try {
    CsrBatchSource(c.view(2, 3), labels, 1, true);
    FAIL() << "accepted 3 labels for 2 rows";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sparse matrix: 2 rows of features but 3 rows of labels or targets");
  }
}

}  // namespace
}  // namespace dptrain
