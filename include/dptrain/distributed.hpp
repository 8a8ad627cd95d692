#pragma once
// Training across processes: the gradient exchange between ranks, behind a small interface the
// trainer calls after its in-process reduce (see Note [The step] in src/engine/engine.cpp). The MPI
// implementation (Debian's OpenMPI) is built with -DDPTRAIN_WITH_MPI; a single process never
// touches MPI.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dptrain {

/// The ranks of one training job. Every call is collective: all ranks make it, in the same
/// order, from one thread each (the thread that drives the Trainer).
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Readies buffers for sums of up to n floats (so the training step allocates nothing).
  virtual void reserve(std::size_t n) = 0;
  /// Element-wise sum over ranks, in place, of n floats. With `deterministic` the result is a
  /// fixed function of the inputs for a fixed rank count (ranks summed in rank order);
  /// otherwise MPI's reduction order, which is also fixed run to run for the same job shape.
  virtual void allreduce_sum(float* data, std::size_t n, bool deterministic) = 0;
  virtual void allreduce_sum(double* data, std::size_t n) = 0;
  /// Throws dptrain::Error naming the ranks whose `value` differs from rank 0's; `what` says
  /// what was compared (e.g. "model and data shape").
  virtual void check_agreement(std::uint64_t value, const std::string& what) = 0;
  /// Ends every rank of the job with `code` (after this rank reported its error).
  [[noreturn]] virtual void abort_job(int code) = 0;
};

/// `ranks` communicators of one job inside this process, for tests and for programs that run
/// several trainers side by side: rank r must be used by its own thread (collectives block
/// until every rank has joined). Sums are in rank order, so every rank gets the same bits.
/// abort_job ends the process. Requires ranks >= 1.
std::vector<std::unique_ptr<Communicator>> make_loopback_ranks(std::size_t ranks);

/// True when this build has MPI.
bool built_with_mpi();

/// When the process was started by an MPI launcher (mpirun/mpiexec: OMPI_COMM_WORLD_SIZE,
/// PMI_SIZE or PMIX_RANK in the environment) with more than one rank, initialises MPI and
/// returns the communicator of all ranks; otherwise returns null and MPI is never initialised.
/// Throws dptrain::Error if launched with several ranks by a build without MPI.
std::unique_ptr<Communicator> connect_launched_ranks(int* argc, char*** argv);

}  // namespace dptrain
