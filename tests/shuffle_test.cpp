// The epoch orders (shuffle.hpp, Note [Windowed shuffle] in src/shuffle.cpp): every row once
// per epoch, blocks whole in their windows, a pure function of (shape, seed, epoch); training in
// windows from a mapped .npy file gives the same bits for any thread count, and the same as
// from memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "dptrain/npy.hpp"
#include "dptrain/shuffle.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

TEST(WindowedShuffle, EveryRowOncePerEpochAndBlocksStayInTheirWindow) {
  for (const std::size_t rows : {1u, 7u, 100u, 1000u, 1601u}) {
    const ShuffleWindows layout(rows, 3, 10);  // blocks of 10 rows, windows of 160
    for (std::uint64_t epoch : {0u, 1u}) {
      const WindowedOrder o = windowed_order(layout, 42, epoch);
      std::vector<std::uint32_t> sorted = o.rows;
      std::sort(sorted.begin(), sorted.end());
      std::vector<std::uint32_t> all(rows);
      std::iota(all.begin(), all.end(), 0u);
      ASSERT_EQ(sorted, all) << rows << " rows, epoch " << epoch;
      ASSERT_EQ(o.windows.front(), 0u);
      ASSERT_EQ(o.windows.back(), rows);
      ASSERT_EQ(o.windows.size() - 1, (layout.blocks() + 15) / 16);
      for (std::size_t w = 0; w + 1 < o.windows.size(); ++w) {
        std::set<std::uint32_t> blocks;  // the window's rows are exactly its blocks' rows
        for (std::size_t p = o.windows[w]; p < o.windows[w + 1]; ++p) {
          blocks.insert(o.rows[p] / 10);
          EXPECT_EQ(o.window_of(p), w);
        }
        const std::set<std::uint32_t> want(
            o.block_order.begin() + std::ptrdiff_t(16 * w),
            o.block_order.begin() + std::ptrdiff_t(std::min(o.block_order.size(), 16 * w + 16)));
        EXPECT_EQ(blocks, want);
      }
    }
  }
}

TEST(WindowedShuffle, APureFunctionOfShapeSeedAndEpoch) {
  const ShuffleWindows layout(5000, 8, 25);
  EXPECT_EQ(windowed_order(layout, 7, 3).rows, windowed_order(layout, 7, 3).rows);
  EXPECT_NE(windowed_order(layout, 7, 3).rows, windowed_order(layout, 7, 4).rows);
  EXPECT_NE(windowed_order(layout, 7, 3).rows, windowed_order(layout, 8, 3).rows);
  // The default block: 4 MiB of rows.
  EXPECT_EQ(ShuffleWindows(10, 784).block_rows, std::size_t(4 << 20) / (784 * 4));
  EXPECT_EQ(ShuffleWindows(10, 1 << 22).block_rows, 1u);
  std::vector<std::uint32_t> order;
  full_order(order, 5, false, 1, 0);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

/// A float32 .npy file of `d`'s features.
void write_npy(const std::string& path, const Dataset& d) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(d.rows) + ", " + std::to_string(d.features) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out << "\x93NUMPY\x01" << '\0' << char(header.size() & 255) << char(header.size() >> 8) << header;
  out.write(reinterpret_cast<const char*>(d.x.data()), std::streamsize(d.x.size() * 4));
}

std::vector<float> trained(const Dataset& d, std::size_t threads, ShuffleMode mode) {
  Model<float> m(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  m.initialize(3);
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 24;  // batches that straddle windows
  c.epochs = 2;
  c.threads = threads;
  c.backend = test::first_test_backend();
  c.deterministic = true;
  c.min_flops_per_worker = 0;
  c.shuffle_mode = mode;
  c.shuffle_block_rows = 10;  // 77 blocks, 5 windows: pages dropped behind, read ahead
  Trainer t(m, c);
  t.fit(d);
  return {m.parameters().begin(), m.parameters().end()};
}

TEST(WindowedShuffle, MappedTrainingIsBitwiseTheSameForAnyThreadCount) {
  const Dataset memory = make_synthetic("blobs8", 5);  // 768 rows
  const std::string path =
      (std::filesystem::temp_directory_path() / "dptrain_shuffle_test.npy").string();
  write_npy(path, memory);
  Dataset mapped = load_npy(path, "", {});
  ASSERT_TRUE(mapped.borrowed_from_file);
  mapped.classes = memory.classes;
  mapped.labels = memory.labels;
  const std::vector<float> one = trained(mapped, 1, ShuffleMode::window);
  EXPECT_EQ(trained(mapped, 2, ShuffleMode::window), one);
  EXPECT_EQ(trained(mapped, 3, ShuffleMode::window), one);
  EXPECT_EQ(trained(memory, 2, ShuffleMode::window), one);  // no prefetcher: the same steps
  EXPECT_NE(trained(memory, 1, ShuffleMode::full), one);    // another order, other weights
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dptrain
