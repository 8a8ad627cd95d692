#pragma once
// Internal to the Trainer: how ranks agree on a stop request without a collective of their own.
//
// Note [Stopping across ranks]. A stop request (Trainer::request_stop, TrainConfig::stop, a
// signal) reaches one rank, or several at different moments, but every rank must leave the epoch
// after the same step or the others wait forever in the next step's collectives. The engine
// already sums the step's loss and metric over ranks (Communicator::allreduce_sum of a few
// doubles, once per step); StopVote sits between the engine and the job's communicator and
// appends this rank's vote (1: stop) to that sum, so every rank learns the same total after the
// same step at no extra latency. The trainer reads the total at each step boundary. Should a
// step make no such sum (an engine change), the trainer votes with an allreduce of its own
// (vote_now), so agreement never depends on the engine's internals; it also votes once at the
// start of every epoch call so that a request made before the first step is honoured there.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

#include "dptrain/distributed.hpp"

namespace dptrain::detail {

class StopVote final : public Communicator {
 public:
  /// `wants_stop` is this rank's request, read once per vote (cheap; any thread-safe flag).
  StopVote(Communicator& inner, std::function<bool()> wants_stop)
      : inner_(inner), wants_stop_(std::move(wants_stop)) {}

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void reserve(std::size_t n) override { inner_.reserve(n); }
  void allreduce_sum(float* data, std::size_t n, bool deterministic) override {
    inner_.allreduce_sum(data, n, deterministic);
  }
  /// Sums of a few values carry the vote as one more value (no allocation: a fixed array).
  void allreduce_sum(double* data, std::size_t n) override {
    if (n >= kMaxCarried) return inner_.allreduce_sum(data, n);
    std::array<double, kMaxCarried> values{};
    std::copy_n(data, n, values.begin());
    values[n] = wants_stop_() ? 1.0 : 0.0;
    inner_.allreduce_sum(values.data(), n + 1);
    std::copy_n(values.begin(), n, data);
    record(values[n]);
  }
  void check_agreement(std::uint64_t value, const std::string& what) override {
    inner_.check_agreement(value, what);
  }
  [[noreturn]] void abort_job(int code) override {
    inner_.abort_job(code);
    std::abort();  // not reached: the compiler cannot see through the virtual call
  }

  /// A vote of its own: one collective of one value (every rank must call it).
  void vote_now() {
    double v = wants_stop_() ? 1.0 : 0.0;
    inner_.allreduce_sum(&v, 1);
    record(v);
  }
  /// Some rank asked to stop in a vote since clear().
  bool agreed() const { return agreed_; }
  /// Votes taken so far (the trainer checks that each step took one).
  std::uint64_t votes() const { return votes_; }
  void clear() { agreed_ = false; }

 private:
  static constexpr std::size_t kMaxCarried = 8;
  void record(double total) {
    agreed_ = agreed_ || total > 0;
    ++votes_;
  }
  Communicator& inner_;
  std::function<bool()> wants_stop_;
  bool agreed_ = false;
  std::uint64_t votes_ = 0;
};

}  // namespace dptrain::detail
