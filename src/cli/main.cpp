// dptrain: the command-line program. The library throws; only this file turns exceptions into
// exit statuses: 2 for bad input (usage, files, data, shapes), 1 for anything unexpected.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <cxxopts.hpp>

#include "commands.hpp"
#include "dptrain/error.hpp"
#include "dptrain/version.hpp"

namespace {

const char* kUsage =
    "usage: dptrain <command> [options]\n"
    "\n"
    "commands:\n"
    "  train   train a model (dptrain train --help)\n"
    "  eval    loss, accuracy, per-class scores and confusion matrix of a checkpoint\n"
    "  predict write one prediction per input row to a CSV file\n"
    "  bench   measure training throughput and thread scaling (dptrain bench --help)\n"
    "  scale   thread-scaling sweep of one model, CSV/JSON + Amdahl fit (dptrain scale --help)\n"
    "\n"
    "  dptrain --version | --help\n";

void keep_large_blocks() {
  // GEMM packing buffers (~400 KB) are above glibc's mmap threshold, so every product would
  // mmap, page-fault and munmap its buffer; measured 151 -> 60 GFLOP/s (DESIGN.md). Serve them
  // from the heap and keep freed memory instead.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("dptrain %s\n", dptrain::version_string);
    return 0;
  }
  keep_large_blocks();
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported like a full disk,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (command == "train") return dptrain::cli::train_command(argc - 1, argv + 1);
    if (command == "eval") return dptrain::cli::eval_command(argc - 1, argv + 1);
    if (command == "predict") return dptrain::cli::predict_command(argc - 1, argv + 1);
    if (command == "bench") return dptrain::cli::bench_command(argc - 1, argv + 1);
    if (command == "scale") return dptrain::cli::scale_command(argc - 1, argv + 1);
    std::fprintf(stderr, "dptrain: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const dptrain::Error& e) {
    std::fprintf(stderr, "dptrain %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "dptrain %s: error: %s (see dptrain %s --help)\n", command.c_str(),
                 e.what(), command.c_str());
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "dptrain %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dptrain %s: error: out of memory\n", command.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dptrain %s: internal error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
