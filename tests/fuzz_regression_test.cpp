// Replays fuzz inputs through the readers without libFuzzer, in every build (Release, ASan, TSan):
//   tests/fuzz_regressions/<reader>/*  inputs that once crashed a reader (or broke an invariant):
//                                      each must now be accepted or rejected with dptrain::Error;
//   fuzz/corpus/<reader>/*             the seed corpus: the same, and seeds named valid-* must be
//                                      accepted (so a format change cannot silently stale them).
// Inputs use the fuzz targets' layouts (fuzz/fuzz_input.hpp), so a crashing input written by
// scripts/fuzz.sh is copied here unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_input.hpp"

namespace {

namespace fs = std::filesystem;

struct FuzzCase {
  std::string reader;  // idx, csv, checkpoint, npy or npz
  std::string kind;    // regression or seed
  fs::path path;
  bool must_accept = false;
  std::string name;  // for the test name: letters, digits and '_' only
};

// What gtest prints for a parameter (instead of its bytes).
void PrintTo(const FuzzCase& c, std::ostream* os) {
  *os << c.path.string();
}

std::string test_name(const FuzzCase& c) {
  std::string name = c.reader + "_" + c.kind + "_" + c.path.filename().string();
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

std::vector<FuzzCase> all_cases() {
  std::vector<FuzzCase> cases;
  for (const std::string reader : {"idx", "csv", "checkpoint", "npy", "npz"}) {
    for (const auto& [dir, kind] : {std::pair{fs::path(DPTRAIN_FUZZ_REGRESSIONS_DIR), "regression"},
                                    std::pair{fs::path(DPTRAIN_FUZZ_CORPUS_DIR), "seed"}}) {
      std::vector<fs::path> files;
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(dir / reader, ec))
        if (entry.is_regular_file() && entry.path().filename().string().front() != '.')
          files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) {
        FuzzCase c{reader, kind, f, false, ""};
        c.must_accept = c.kind == "seed" && f.filename().string().starts_with("valid-");
        c.name = test_name(c);
        cases.push_back(c);
      }
    }
  }
  return cases;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

class FuzzInput : public ::testing::TestWithParam<FuzzCase> {};

TEST_P(FuzzInput, AcceptedOrRejectedWithError) {
  const FuzzCase& c = GetParam();
  SCOPED_TRACE(c.path.string());
  ASSERT_TRUE(fs::is_regular_file(c.path));
  const std::string bytes = read_bytes(c.path);
  bool accepted = false;
  try {
    if (c.reader == "idx") accepted = dptrain::fuzz::run_idx(bytes);
    if (c.reader == "csv") accepted = dptrain::fuzz::run_csv(bytes);
    if (c.reader == "checkpoint") accepted = dptrain::fuzz::run_checkpoint(bytes);
    if (c.reader == "npy") accepted = dptrain::fuzz::run_npy(bytes);
    if (c.reader == "npz") accepted = dptrain::fuzz::run_npz(bytes);
  } catch (const std::exception& e) {
    FAIL() << "the " << c.reader
           << " reader let a non-dptrain::Error exception escape: " << e.what();
  }
  if (c.must_accept) {
    EXPECT_TRUE(accepted) << "a valid-* seed was rejected";
  }
}

INSTANTIATE_TEST_SUITE_P(Files, FuzzInput, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<FuzzCase>& info) {
                           return info.param.name;
                         });

// The folders exist and hold inputs: an empty list would pass vacuously.
TEST(FuzzInputs, EveryReaderHasSeedsAndRegressions) {
  for (const std::string reader : {"idx", "csv", "checkpoint", "npy", "npz"}) {
    std::size_t seeds = 0, regressions = 0;
    for (const FuzzCase& c : all_cases()) {
      if (c.reader != reader) continue;
      (c.kind == "seed" ? seeds : regressions)++;
    }
    EXPECT_GT(seeds, 0u) << reader;
    EXPECT_GT(regressions, 0u) << reader;
  }
}

}  // namespace
