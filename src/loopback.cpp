// In-process ranks: the Communicator contract without MPI, so the multi-rank path of the engine
// is tested everywhere (and under ThreadSanitizer).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dptrain/distributed.hpp"
#include "dptrain/error.hpp"
#include "dptrain/parallel/barrier.hpp"

namespace dptrain {

namespace {

/// What the ranks of one group share: a barrier and one published slot per rank.
struct LoopbackGroup {
  explicit LoopbackGroup(std::size_t n) : barrier(n), floats(n), doubles(n), values(n) {}
  parallel::Barrier barrier;
  std::vector<const float*> floats;
  std::vector<const double*> doubles;
  std::vector<std::uint64_t> values;
};

class LoopbackCommunicator final : public Communicator {
 public:
  LoopbackCommunicator(std::shared_ptr<LoopbackGroup> group, int rank)
      : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return int(group_->floats.size()); }
  void reserve(std::size_t n) override {
    float_sum_.resize(n);
    double_sum_.resize(8);  // the step's loss and metric sums
  }

  // Publish, wait for all, sum every rank's values in rank order into private scratch, wait
  // until nobody reads the inputs any more, then overwrite this rank's values.
  void allreduce_sum(float* data, std::size_t n, bool) override {
    sum(data, n, group_->floats, float_sum_);
  }
  void allreduce_sum(double* data, std::size_t n) override {
    sum(data, n, group_->doubles, double_sum_);
  }

  void check_agreement(std::uint64_t value, const std::string& what) override {
    group_->values[std::size_t(rank_)] = value;
    group_->barrier.arrive_and_wait();
    std::string differing;
    for (std::size_t r = 1; r < group_->values.size(); ++r)
      if (group_->values[r] != group_->values[0])
        differing += (differing.empty() ? "" : ", ") + std::to_string(r);
    group_->barrier.arrive_and_wait();
    if (!differing.empty())
      throw Error("ranks disagree on " + what + ": rank(s) " + differing + " differ from rank 0");
  }

  [[noreturn]] void abort_job(int code) override { std::_Exit(code); }

 private:
  template <class T>
  void sum(T* data, std::size_t n, std::vector<const T*>& slots, std::vector<T>& scratch) {
    if (scratch.size() < n) scratch.resize(n);  // floats: reserved up front, no allocation
    slots[std::size_t(rank_)] = data;
    group_->barrier.arrive_and_wait();
    for (std::size_t i = 0; i < n; ++i) {
      T s = slots[0][i];
      for (std::size_t r = 1; r < slots.size(); ++r) s += slots[r][i];
      scratch[i] = s;
    }
    group_->barrier.arrive_and_wait();
    for (std::size_t i = 0; i < n; ++i) data[i] = scratch[i];
  }

  std::shared_ptr<LoopbackGroup> group_;
  int rank_;
  std::vector<float> float_sum_;
  std::vector<double> double_sum_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_loopback_ranks(std::size_t ranks) {
  if (ranks == 0) throw std::invalid_argument("make_loopback_ranks: needs at least one rank");
  auto group = std::make_shared<LoopbackGroup>(ranks);
  std::vector<std::unique_ptr<Communicator>> all;
  for (std::size_t r = 0; r < ranks; ++r)
    all.push_back(std::make_unique<LoopbackCommunicator>(group, int(r)));
  return all;
}

}  // namespace dptrain
