// dptrain: the command-line program. The library throws; only this file turns exceptions into
// exit statuses: 2 for bad input (usage, files, data, shapes), 1 for anything unexpected.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include <cxxopts.hpp>

#include "commands.hpp"
#include "dptrain/distributed.hpp"
#include "dptrain/error.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/version.hpp"
#include "stop_signals.hpp"

namespace {

const char* kUsage =
    "usage: dptrain <command> [options]\n"
    "\n"
    "commands:\n"
    "  train   train a model (dptrain train --help)\n"
    "  eval    loss, accuracy, per-class scores and confusion matrix of a checkpoint\n"
    "  predict write one prediction per input row to a CSV file\n"
    "  export  write a checkpoint as an ONNX model for other runtimes (dptrain export --help)\n"
    "  bench   measure training throughput and thread scaling (dptrain bench --help)\n"
    "  scale   thread-scaling sweep of one model, CSV/JSON + Amdahl fit (dptrain scale --help)\n"
    "  tune    time the GEMM kernels per product shape for --gemm auto (dptrain tune --help)\n"
    "\n"
    "  dptrain --version | --help\n";

void keep_large_blocks() {
  // GEMM packing buffers (~400 KB) are above glibc's mmap threshold, so every product would
  // mmap, page-fault and munmap its buffer; measured 151 -> 60 GFLOP/s (docs/DESIGN.md, "GEMM
  // buffers stay on the heap"). Serve them from the heap and keep freed memory instead.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

/// The flag to check for a library error about `topic`, in `command`'s own options; empty when
/// the command has no such option (the library's message then stands alone).
std::string flag_hint(const std::string& command, dptrain::ErrorTopic topic) {
  using T = dptrain::ErrorTopic;
  const bool trains = command == "train";
  const bool reads_tables = trains || command == "eval" || command == "predict";
  switch (topic) {
    case T::layer_widths:
      return trains ? "check --layers" : reads_tables ? "check --data and --label" : "";
    case T::output_activation:
      return trains ? "check --output" : "";
    case T::loss:
      return trains ? "check --loss" : "";
    case T::label_column:
      return reads_tables ? "check --label" : "";
    case T::label_kind:
      return trains                 ? "for regression use --loss mse"
             : command == "predict" ? "if the data have no label column, use --label none"
                                    : "";
    case T::table_source:
      return reads_tables ? "give --table or --query" : "";
    case T::schedule:
      return trains ? "check --lr-step-epochs" : "";
    case T::batch_size:
      return trains || command == "bench" ? "check --batch-size" : "";
    case T::micro_batches:
      return "check --micro-batches";
    case T::threads:
      return "check --threads";
    case T::divergence:
      return trains ? "try a smaller --lr" : "";
    case T::thread_start:
      return "lower --threads, or raise the process limit (ulimit -u) or the memory limit "
             "(ulimit -v)";
    case T::none:
      return "";
  }
  return "";
}

/// "error: <message> (<hint>)"; the remedy for a refused thread or a divergence follows after
/// "; " instead (their messages end in parentheses of their own).
std::string error_text(const std::string& command, const char* message, dptrain::ErrorTopic topic) {
  const std::string hint = flag_hint(command, topic);
  if (hint.empty()) return std::string("error: ") + message;
  if (topic == dptrain::ErrorTopic::thread_start || topic == dptrain::ErrorTopic::divergence)
    return std::string("error: ") + message + "; " + hint;
  return std::string("error: ") + message + " (" + hint + ")";
}

int dispatch(const std::string& command, int argc, char** argv) {
  if (command == "train") return dptrain::cli::train_command(argc - 1, argv + 1);
  if (command == "eval") return dptrain::cli::eval_command(argc - 1, argv + 1);
  if (command == "predict") return dptrain::cli::predict_command(argc - 1, argv + 1);
  if (command == "export") return dptrain::cli::export_command(argc - 1, argv + 1);
  if (command == "bench") return dptrain::cli::bench_command(argc - 1, argv + 1);
  if (command == "scale") return dptrain::cli::scale_command(argc - 1, argv + 1);
  if (command == "tune") return dptrain::cli::tune_command(argc - 1, argv + 1);
  throw dptrain::Error("unknown command '" + command +
                       "' (commands: train, eval, predict, export, bench, scale, tune)");
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
  // The CLI owns its process's threads (Note [Threads]): OpenBLAS, wherever it is called (the
  // openblas kernel, bench's SGEMM rate), runs on the caller's thread only.
  const dptrain::OpenBlasSingleThreaded openblas_one_thread;
  dptrain::cli::set_program_path(argv[0]);  // for the resume command printed after a stop
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported like a full disk,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  std::unique_ptr<dptrain::Communicator> ranks;
  int code = 0;
  std::string error;  // "error: ..." or "internal error: ..."
  try {
    ranks = dptrain::connect_launched_ranks(&argc, &argv);
    dptrain::cli::set_job_communicator(ranks.get());
    code = dispatch(command, argc, argv);
  } catch (const dptrain::Error& e) {
    code = 2, error = error_text(command, e.what(), e.topic());
  } catch (const dptrain::parallel::ThreadStartError& e) {  // the CLI's own pools and threads
    code = 2, error = error_text(command, e.what(), dptrain::ErrorTopic::thread_start);
  } catch (const cxxopts::exceptions::exception& e) {
    code = 2, error = std::string("error: ") + e.what() + " (see dptrain " + command + " --help)";
  } catch (const std::invalid_argument& e) {
    code = 2, error = std::string("error: ") + e.what();
  } catch (const std::bad_alloc&) {
    code = 2, error =
                  "error: out of memory: the model, the batch or the data does not fit in this "
                  "machine's memory (try fewer --threads, a smaller --batch-size or model)";
  } catch (const std::exception& e) {
    code = 1, error = std::string("internal error: ") + e.what();
  }
  if (!error.empty()) {
    const bool job = ranks && ranks->size() > 1;
    const std::string who = job ? "rank " + std::to_string(ranks->rank()) + " of " +
                                      std::to_string(ranks->size()) + ": "
                                : "";
    std::fprintf(stderr, "dptrain %s: %s%s\n", command.c_str(), who.c_str(), error.c_str());
    std::fflush(stderr);
    // The other ranks may wait in a collective for this one: end the whole job now.
    if (job) ranks->abort_job(code);
  }
  return code;
}
