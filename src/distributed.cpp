#include "dptrain/distributed.hpp"

#include <cstdlib>
#include <string>

#include "dptrain/error.hpp"

#if DPTRAIN_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <vector>
#endif

namespace dptrain {

namespace {

/// The rank count an MPI launcher announced, or 0 when not launched by one.
int launched_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* v = std::getenv(var); v && *v) return std::atoi(v);
  return 0;
}

}  // namespace

#if DPTRAIN_HAVE_MPI

namespace {

// One blocking MPI_Allreduce per bucket: OpenMPI 4 makes no progress on non-blocking
// collectives without polling (docs/DISTRIBUTED.md, "What is exchanged, and how"), and MPI
// counts are ints.
constexpr std::size_t kBucket = std::size_t(1) << 22;  // 4 Mi floats = 16 MB

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv) {
    int provided = 0;
    // Only the thread driving the Trainer calls MPI; workers never do.
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Errors come back as codes so they become exceptions naming the rank.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiCommunicator() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void reserve(std::size_t n) override { gathered_.resize(n * std::size_t(size_)); }

  void allreduce_sum(float* data, std::size_t n, bool deterministic) override {
    if (!deterministic) {
      for (std::size_t b = 0; b < n; b += kBucket) {
        const int count = int(std::min(kBucket, n - b));
        check(MPI_Allreduce(MPI_IN_PLACE, data + b, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
      }
      return;
    }
    // Deterministic: gather every rank's values and add them in rank order on each rank.
    if (gathered_.size() < n * std::size_t(size_)) gathered_.resize(n * std::size_t(size_));
    for (std::size_t b = 0; b < n; b += kBucket) {
      const std::size_t count = std::min(kBucket, n - b);
      check(MPI_Allgather(data + b, int(count), MPI_FLOAT, gathered_.data(), int(count), MPI_FLOAT,
                          MPI_COMM_WORLD),
            "MPI_Allgather");
      for (std::size_t i = 0; i < count; ++i) {
        float s = gathered_[i];
        for (int r = 1; r < size_; ++r) s += gathered_[std::size_t(r) * count + i];
        data[b + i] = s;
      }
    }
  }

  void allreduce_sum(double* data, std::size_t n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }

  void check_agreement(std::uint64_t value, const std::string& what) override {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_), 0);
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
          "MPI_Allgather");
    std::string differing;
    for (int r = 1; r < size_; ++r)
      if (all[std::size_t(r)] != all[0])
        differing += (differing.empty() ? "" : ", ") + std::to_string(r);
    if (!differing.empty())
      throw Error("ranks disagree on " + what + ": rank(s) " + differing + " differ from rank 0");
  }

  [[noreturn]] void abort_job(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  void check(int rc, const char* call) const {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(std::string(call) + " failed on rank " + std::to_string(rank_) + ": " +
                std::string(text, std::size_t(len)));
  }
  int rank_ = 0, size_ = 1;
  std::vector<float> gathered_;
};

}  // namespace

bool built_with_mpi() {
  return true;
}

std::unique_ptr<Communicator> connect_launched_ranks(int* argc, char*** argv) {
  if (launched_size() <= 1) return nullptr;  // one process: no MPI at all
  return std::make_unique<MpiCommunicator>(argc, argv);
}

#else

bool built_with_mpi() {
  return false;
}

std::unique_ptr<Communicator> connect_launched_ranks(int*, char***) {
  const int size = launched_size();
  if (size > 1)
    throw Error("started by an MPI launcher with " + std::to_string(size) +
                " ranks, but this dptrain was built without MPI (configure with "
                "-DDPTRAIN_WITH_MPI=ON and install libopenmpi-dev)");
  return nullptr;
}

#endif

}  // namespace dptrain
