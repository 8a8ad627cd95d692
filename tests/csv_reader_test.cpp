// The CSV reader's fast path and streaming (Note [Fast CSV path], Note [Streaming CSV]): the
// same data set or message as the exact reader alone, whatever the chunks and workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "dptrain/parallel/pool.hpp"
#include "dptrain/table.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

struct Outcome {
  std::string message;
  Dataset data;
};

Outcome read(std::string_view text, TableOptions o, std::size_t chunk, bool fast,
             parallel::WorkerPool* pool) {
  o.pool = pool;
  Outcome out;
  try {
    out.data = parse_csv_with(text, "t.csv", o, chunk, fast);
  } catch (const Error& e) {
    out.message = e.what();
  }
  return out;
}

std::string bits(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

/// The exact reader alone, then the fast path on 3 workers in chunks of 8 to 64 bytes: the same
/// message, or the same data set bit for bit.
void expect_same(std::string_view text, const TableOptions& o = {}) {
  static parallel::WorkerPool pool(parallel::Backend::threads, 3);
  const Outcome exact = read(text, o, kCsvChunkBytes, false, nullptr);
  for (std::size_t chunk : {8, 13, 64, 1 << 21}) {
    const Outcome fast = read(text, o, chunk, true, &pool);
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    ASSERT_EQ(fast.message, exact.message);
    if (!exact.message.empty()) continue;
    EXPECT_EQ(fast.data.rows, exact.data.rows);
    EXPECT_EQ(bits(fast.data.x), bits(exact.data.x));
    EXPECT_EQ(fast.data.labels, exact.data.labels);
    EXPECT_EQ(bits(fast.data.targets), bits(exact.data.targets));
    EXPECT_EQ(fast.data.schema, exact.data.schema);
  }
}

std::string numeric_rows(std::size_t rows, std::uint32_t seed, const char* eol = "\n") {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1e3, 1e3);
  std::string s = std::string("a,b,c,label") + eol;
  for (std::size_t r = 0; r < rows; ++r) {
    char line[160];
    std::snprintf(line, sizeof line, "%.17g,%.6e,%g,%d%s", u(rng), u(rng), u(rng), int(rng() % 3),
                  eol);
    s += line;
  }
  return s;
}

TEST(CsvFastPath, NumericRowsAsTheExactReaderReadsThem) {
  expect_same(numeric_rows(300, 1));
  expect_same(numeric_rows(300, 2, "\r\n"));
  TableOptions regression;
  regression.classification = false;
  expect_same(numeric_rows(200, 3), regression);
  TableOptions none;
  none.label = "none";
  expect_same(numeric_rows(200, 4), none);
}

TEST(CsvFastPath, NumbersReadAsFromCharsReadsThem) {
  // Short decimals take the fast path's own parser (Clinger's fast path); the rest fast_float
  // or std::from_chars. Every value must be the exact reader's, bit for bit.
  std::string text = "x,y\n";
  for (const char* v : {"9007199254740993", "9007199254740992", "1e22", "1e23", "0.1", "-0", "5.",
                        ".5", "00012", "123456789012345678", "1234567890123456789",
                        "0.000000000000000000001", "1e0022", "2.5E+3", "-7e-22", "+3"})
    text += std::string(v) + ",1\n";
  std::mt19937_64 rng(8);
  for (int i = 0; i < 3000; ++i) {
    const int digits = 1 + int(rng() % 18), point = int(rng() % (digits + 1));
    std::string n = rng() % 2 ? "-" : "";
    for (int d = 0; d < digits; ++d) {
      if (d == point) n += '.';
      n += char('0' + rng() % 10);
    }
    if (rng() % 3 == 0) n.append("e").append(std::to_string(int(rng() % 50) - 25));
    text.append(n).append(",0\n");
  }
  const Outcome all = read(text, {}, kCsvChunkBytes, false, nullptr);
  ASSERT_EQ(all.message, "");  // every row is compared
  EXPECT_EQ(all.data.rows, 3016u);
  expect_same(text);
  for (const char* edge : {"1e,0\n", "1e+,0\n", ".,0\n", "-,0\n", "1.2.3,0\n", "--1,0\n",
                           "1e-400,0\n", "4.9e-324,0\n", "1.7976931348623157e308,0\n", "1e39,0\n"})
    expect_same(text + edge);
}

TEST(CsvFastPath, QuotesCommentsAndBlankLines) {
  std::string text = "f1,\"f 2\",y\n";
  for (int r = 0; r < 60; ++r) {
    text += std::to_string(r) + ", \"" + std::to_string(r * 0.5) + "\" ,";
    text += r % 7 == 0 ? "\"multi\nline\"\n" : r % 5 == 0 ? "\"say \"\"hi\"\"\"\n" : "cat\n";
    if (r % 11 == 0) text += "# a comment with a \" quote\n\n   \n";
  }
  expect_same(text);
  expect_same("a,b,y\r1,2,x\r3,4,y\r");  // lone CR line ends
  expect_same("a;b;y\n1;2;0\n3;4;1\n", [] {
    TableOptions o;
    o.delimiter = ';';
    return o;
  }());
  TableOptions tabs;
  tabs.delimiter = '\t';
  expect_same("a\tb\ty\n1\t 2\t0\n \n3\t4\t1\n", tabs);
  expect_same("a\tb\ty\n1\t2\t0\n\t\t\n3\t4\t1\n", tabs);  // a line of tabs: empty fields
}

TEST(CsvFastPath, LabelColumnAnywhereAndLongDigitRuns) {
  // The one-pass row (plain_row) with the label first or in the middle, as a class and as a
  // target, numbers of 8 and more digits on either side of the point, fields at the line end.
  std::string text = "y,a,b\n";
  std::mt19937_64 rng(11);
  for (int r = 0; r < 400; ++r) {
    const std::string big = std::to_string(rng() % 1000000000000ull);
    text += std::to_string(r % 4) + "," + big + "." + std::to_string(rng() % 100000000) + ",-" +
            std::to_string(rng() % 1000) + "\n";
  }
  TableOptions first;
  first.label = "y";
  expect_same(text, first);
  first.classification = false;
  expect_same(text, first);
  TableOptions middle;
  middle.label = "a";
  expect_same(text, middle);
  expect_same(text + "1,2,3,4\n", middle);  // too many fields after a label in the middle
  expect_same(text + "1,2\n", middle);      // too few
  middle.classification = false;
  expect_same(text, middle);
}

TEST(CsvFastPath, ErrorsKeepTheExactReadersMessageAndLine) {
  const std::string good = numeric_rows(150, 5);
  for (const char* bad : {"1,2,3\n", "1,,2,0\n", "1,x,2,0\n", "1,2,3,0,5\n", "nan,1,2,0\n",
                          "1e39,1,2,0\n", "1,2,3,\"0\n", "1,2,3,1.5\n", "1,2\"3,4,0\n"}) {
    SCOPED_TRACE(bad);
    const std::size_t at = good.find('\n', good.size() / 2) + 1;
    expect_same(good.substr(0, at) + bad + good.substr(at));
    expect_same(good + bad);
  }
  // The first problem in the text is reported, whatever the block size: a NUL byte after a bad
  // row or before it.
  using namespace std::string_literals;
  expect_same(good + "1,x,2,0\n" + good.substr(good.find('\n') + 1) + "1,\0,2,0\n"s);
  expect_same(good + "1,\0,2,0\n"s + good.substr(good.find('\n') + 1) + "1,x,2,0\n");
  TableOptions model;
  model.model_classes = 2;  // label 2 is not one of the model's classes
  expect_same(good, model);
}

TEST(CsvFastPath, RowsAcrossWorkersInOrder) {
  parallel::WorkerPool pool(parallel::Backend::threads, 4);
  const std::string text = numeric_rows(5000, 6);
  TableOptions o;
  o.pool = &pool;
  const Dataset d = parse_csv(text, "t.csv", o);
  const Dataset one = parse_csv_with(text, "t.csv", {}, kCsvChunkBytes, false);
  EXPECT_EQ(d.rows, 5000u);
  EXPECT_EQ(bits(d.x), bits(one.x));
  EXPECT_EQ(d.labels, one.labels);
}

TEST(CsvStreaming, GzipFileReadAsItInflates) {
  const std::string text = numeric_rows(3000, 7);
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / "dptrain_stream_test.csv.gz").string();
  std::ofstream(path, std::ios::binary)
      << test::gzip_member(text.substr(0, 1000)) << test::gzip_member(text.substr(1000));
  const Dataset d = load_csv(path, {});
  const Dataset plain = parse_csv(text, "t.csv", {});
  EXPECT_EQ(bits(d.x), bits(plain.x));
  EXPECT_EQ(d.labels, plain.labels);
  std::filesystem::remove(path);
}

TEST(CsvStreaming, PlainFileReadInPlaceAsFromMemory) {
  // About 11 MB, with a byte-order mark: the map's pages are dropped behind the reader as it
  // goes (TextBlocks), and the rows are those parse_csv reads from memory.
  const std::string text = numeric_rows(250000, 12);
  const std::string path =
      (std::filesystem::temp_directory_path() / "dptrain_mapped_test.csv").string();
  std::ofstream(path, std::ios::binary) << "\xEF\xBB\xBF" << text;
  parallel::WorkerPool pool(parallel::Backend::threads, 2);
  TableOptions o;
  o.pool = &pool;
  const Dataset d = load_csv(path, o);
  const Dataset plain = parse_csv(text, "t.csv", {});
  EXPECT_EQ(d.rows, 250000u);
  EXPECT_EQ(bits(d.x), bits(plain.x));
  EXPECT_EQ(d.labels, plain.labels);
  EXPECT_EQ(d.schema.feature_names, plain.schema.feature_names);
  std::filesystem::remove(path);
}

/// The message of parse_csv(text) on a pool of `workers`, or "" when it reads.
std::string message_of(const std::string& text, const std::string& name, std::size_t workers) {
  parallel::WorkerPool pool(parallel::Backend::threads, workers);
  TableOptions o;
  o.pool = &pool;
  try {
    parse_csv(text, name, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CsvStreaming, GzipErrorsComeAfterTheProblemsBeforeThem) {
  // About 6 MiB of text, inflated ahead in pieces while the blocks before are parsed (Note
  // [Inflation ahead]): a bad cell in the second MiB-range is met before the gzip data's own
  // problem near its end, and without it the gzip problem is the message.
  const std::string rows = numeric_rows(140000, 9);
  const std::size_t at = rows.find('\n', 2600000) + 1;
  const std::string bad = rows.substr(0, at) + "1,x,2,0\n" + rows.substr(at);
  const std::string line = std::to_string(std::count(bad.begin(), bad.begin() + at, '\n') + 1);
  const std::string bad_cell = "t.csv.gz: line " + line + ", column 2: 'x' is not a number";
  const std::string cut = test::gzip_member(bad), whole = test::gzip_member(rows);
  for (const std::size_t workers : {1, 2}) {
    SCOPED_TRACE(std::to_string(workers) + " workers");
    EXPECT_EQ(message_of(cut.substr(0, cut.size() * 9 / 10), "t.csv.gz", workers), bad_cell);
    EXPECT_EQ(message_of(cut + "junk", "t.csv.gz", workers), bad_cell);
    EXPECT_EQ(message_of(whole.substr(0, whole.size() * 9 / 10), "t.csv.gz", workers),
              "cannot read 't.csv.gz': truncated gzip data");
    EXPECT_EQ(message_of(whole + "junk", "t.csv.gz", workers),
              "cannot read 't.csv.gz': 4 bytes of trailing data after gzip member 1 that are "
              "not another gzip member");
    EXPECT_EQ(message_of(whole, "t.csv.gz", workers), "");
  }
}

TEST(CsvStreaming, BinaryInflatedDataIsRefusedInTheFirstBlock) {
  // 64 MiB of NUL bytes compress to 64 KiB: refused after one block, not inflated whole.
  const std::string bomb = test::gzip_member(std::string(std::size_t(64) << 20, '\0'));
  try {
    parse_csv(bomb, "bomb.csv.gz", {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "'bomb.csv.gz' is binary (a NUL byte on line 1), not CSV text");
  }
}

}  // namespace
}  // namespace dptrain
