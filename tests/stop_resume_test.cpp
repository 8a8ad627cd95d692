// Stopping at a step boundary and resuming inside an epoch: request_stop() / TrainConfig::stop,
// the position in checkpoints, the same bits and epoch figures as an uninterrupted run, and the
// agreement of ranks on a stop.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <regex>
#include <thread>

#include "dptrain/checkpoint.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

// blobs8 has 768 rows: 24 steps of 32 per epoch.
constexpr std::size_t kSteps = 24;

ModelSpec spec() {
  return ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax, 0.2);  // dropout too
}

TrainConfig config(std::size_t threads) {
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 32;
  c.epochs = 3;
  c.threads = threads;
  c.deterministic = true;
  c.micro_batches = 4;
  c.min_flops_per_worker = 0;
  c.schedule.kind = ScheduleKind::cosine;
  return c;
}

struct Straight {
  std::uint64_t hash = 0;
  std::vector<EpochResult> epochs;
};

Straight uninterrupted(const Dataset& d) {
  Model<float> m(spec());
  m.initialize(5);
  Trainer t(m, config(1));
  Straight run;
  run.epochs = t.fit(d);
  run.hash = params_hash<float>(m.parameters());
  return run;
}

/// Trains until global step `stop_after`, stops there, and returns the checkpoint (through its
/// bytes, as a file would carry it).
Checkpoint stopped_at(const Dataset& d, std::uint64_t stop_after, std::size_t threads) {
  Model<float> m(spec());
  m.initialize(5);
  TrainConfig c = config(threads);
  Trainer* running = nullptr;
  c.on_step = [&](std::size_t, std::size_t) {
    if (running->step_count() == stop_after) running->request_stop();
  };
  Trainer t(m, c);
  running = &t;
  if (stop_after == 0) t.request_stop();
  const FitResult r = t.fit(d, FitOptions{});
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(t.step_count(), stop_after);
  EXPECT_FALSE(t.stop_requested());  // consumed
  EXPECT_EQ(t.epochs_done(), stop_after / kSteps);
  EXPECT_EQ(t.epoch_progress().steps, stop_after % kSteps);
  return decode_checkpoint(encode_checkpoint(t.checkpoint()), "k");
}

TEST(StopResume, MidEpochResumeGivesTheSameBitsAndEpochLines) {
  const Dataset d = make_synthetic("blobs8", 1);
  const Straight straight = uninterrupted(d);
  ASSERT_EQ(straight.epochs.size(), 3u);
  for (std::uint64_t at : {0u, 1u, 13u, 24u, 47u, 71u}) {
    const Checkpoint k = stopped_at(d, at, at % 2 ? 2 : 1);
    EXPECT_EQ(k.epoch_progress.steps, at % kSteps);
    EXPECT_EQ(k.epoch_progress.samples, (at % kSteps) * 32);
    Model<float> m = model_from_checkpoint(k);
    Trainer t(m, config(3));  // another thread count: deterministic mode promises the same bits
    t.restore(k);
    const std::vector<EpochResult> rest = t.fit(d);
    EXPECT_EQ(params_hash<float>(m.parameters()), straight.hash) << "stopped after step " << at;
    ASSERT_EQ(rest.size(), 3 - at / kSteps);
    // The resumed epoch reports what the uninterrupted one did (sums carried in the checkpoint).
    const EpochResult& a = rest.front();
    const EpochResult& b = straight.epochs[at / kSteps];
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_EQ(a.train_loss, b.train_loss) << at;
    EXPECT_EQ(a.train_metric, b.train_metric) << at;
    EXPECT_EQ(a.learning_rate, b.learning_rate);
  }
}

TEST(StopResume, StoppedEpochContinuesInTheSameTrainer) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(spec());
  m.initialize(5);
  Trainer t(m, config(2));
  t.request_stop();
  EpochResult e = t.train_epoch(d);  // stops before its first step
  EXPECT_TRUE(e.stopped);
  EXPECT_EQ(e.steps, 0u);
  EXPECT_EQ(t.step_count(), 0u);
  e = t.train_epoch(d);
  EXPECT_FALSE(e.stopped);
  EXPECT_EQ(e.steps, kSteps);
  EXPECT_EQ(t.epochs_done(), 1u);
  for (int i = 0; i < 2; ++i) t.train_epoch(d);
  EXPECT_EQ(params_hash<float>(m.parameters()), uninterrupted(d).hash);
}

TEST(StopResume, CallersStopFlagIsReadNeverCleared) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(spec());
  m.initialize(5);
  std::atomic<bool> flag{false};
  TrainConfig c = config(1);
  c.stop = &flag;
  std::size_t steps = 0;
  c.on_step = [&](std::size_t, std::size_t) {
    if (++steps == 5) flag.store(true);  // e.g. a signal handler
  };
  Trainer t(m, c);
  EXPECT_TRUE(t.fit(d, FitOptions{}).stopped);
  EXPECT_EQ(t.step_count(), 5u);
  EXPECT_TRUE(t.stop_requested());
  EXPECT_TRUE(t.fit(d, FitOptions{}).stopped);  // still set: stops before any step
  EXPECT_EQ(t.step_count(), 5u);
  flag.store(false);
  const FitResult r = t.fit(d, FitOptions{});
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(t.step_count(), 3 * kSteps);
}

TEST(StopResume, AThrowingCallbackAbandonsThePartDoneEpoch) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(spec());
  m.initialize(5);
  TrainConfig c = config(1);
  bool interrupt = true;
  c.on_step = [&](std::size_t done, std::size_t) {
    if (interrupt && done == 7) throw std::runtime_error("KeyboardInterrupt");
  };
  Trainer t(m, c);
  EXPECT_THROW(t.train_epoch(d), std::runtime_error);
  EXPECT_EQ(t.epoch_progress().steps, 0u);  // abandoned: other data may follow
  interrupt = false;
  EXPECT_EQ(t.train_epoch(d.head(64)).steps, 2u);
}

TEST(StopResume, AStopKeepsThePositionUntilAbandoned) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(spec());
  m.initialize(5);
  TrainConfig c = config(1);
  Trainer* running = nullptr;
  c.on_step = [&](std::size_t done, std::size_t) {
    if (done == 3) running->request_stop();
  };
  Trainer t(m, c);
  running = &t;
  EXPECT_TRUE(t.train_epoch(d).stopped);
  EXPECT_EQ(t.epoch_progress().steps, 3u);
  EXPECT_THROW(t.train_epoch(d.head(64)), Error);  // 2 steps per epoch: position 3 does not fit
  EXPECT_EQ(t.epoch_progress().steps, 3u);         // and the refusal keeps it
  t.abandon_epoch();
  EXPECT_EQ(t.train_epoch(d.head(64)).steps, 2u);
  EXPECT_EQ(t.step_count(), 5u);
}

TEST(StopResume, PositionThatDoesNotFitTheDataIsRefused) {
  const Dataset d = make_synthetic("blobs8", 1);
  const Checkpoint k = stopped_at(d, 13, 1);
  ASSERT_EQ(k.data_fingerprint.rows, 768u);
  // Note [Data fingerprint]: the rows differ. A checkpoint written before fingerprints (none
  // recorded) is checked against the epoch's step count only.
  Checkpoint old = k;
  old.data_fingerprint = {};
  const std::pair<const Checkpoint*, std::string> cases[] = {
      {&k,
       "the restored position (epoch 1, 13 steps done) was counted on other data: data 'blobs8' "
       "has 100 training rows where the checkpoint's position was counted on 768"},
      {&old, "does not fit data"}};
  for (const auto& [checkpoint, message] : cases) {
    Model<float> m = model_from_checkpoint(*checkpoint);
    Trainer t(m, config(1));
    t.restore(*checkpoint);
    try {
      t.train_epoch(d.head(100));  // 4 steps per epoch: step 13 is past its end
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  // The same rows in another order (or with other values) are other data too.
  Dataset shuffled = d;
  std::swap(shuffled.labels[0], shuffled.labels[1]);
  std::swap_ranges(shuffled.x.begin(), shuffled.x.begin() + 8, shuffled.x.begin() + 8);
  Model<float> m = model_from_checkpoint(k);
  Trainer t(m, config(1));
  t.restore(k);
  try {
    t.train_epoch(shuffled);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data 'blobs8' has other values, labels or row order in "
                                         "its 768 training rows"),
              std::string::npos)
        << e.what();
  }
  // The same rows resume.
  Model<float> same = model_from_checkpoint(k);
  Trainer resumed(same, config(1));
  resumed.restore(k);
  EXPECT_NO_THROW(resumed.train_epoch(d));
}

TEST(StopResume, MidEpochWeightsAreNotTakenForTheBestEpochs) {
  const Dataset d = make_synthetic("blobs8", 1);
  Checkpoint k = stopped_at(d, 30, 1);  // inside epoch 2
  k.best_validation_loss = 1e-9;        // epoch 1 was the best so far: no later epoch beats it
  k.epochs_since_best = 0;
  Model<float> m = model_from_checkpoint(k);
  Trainer t(m, config(1));
  t.restore(k);
  FitOptions options;
  options.validation = &d;
  options.patience = 1;
  const FitResult r = t.fit(d, options);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_FALSE(r.restored_best);  // the checkpoint's weights are from step 30, not epoch 1's end
}

TEST(StopResume, CheckpointProgressRoundTripsAndIsChecked) {
  const Dataset d = make_synthetic("blobs8", 1);
  const Checkpoint k = stopped_at(d, 29, 1);
  const std::string bytes = encode_checkpoint(k);
  EXPECT_EQ(decode_checkpoint(bytes, "k").epoch_progress.loss_sum, k.epoch_progress.loss_sum);
  // A file from before the field: an epoch boundary.
  const std::string old = test::with_metadata(bytes, [](std::string meta) {
    return std::regex_replace(meta, std::regex(R"("epoch_progress":\{[^}]*\},)"), "");
  });
  EXPECT_EQ(decode_checkpoint(old, "old.dpt").epoch_progress.steps, 0u);
  // Edited values that cannot be a position are named.
  const std::pair<const char*, const char*> bad[] = {
      {R"("steps":99999)", "is above step 29"},    {R"("samples":1)", "do not fit batch size"},
      {R"("samples":0)", "do not fit batch size"}, {R"("samples":9999)", "do not fit batch size"},
      {R"("loss_sum":-1.0)", "finite and >= 0"},   {R"("steps":-5)", "'steps' must be a whole"}};
  for (const auto& entry : bad) {
    // Plain names, not a structured binding: clang 14 (the TSan build) cannot capture those.
    const char* const replacement = entry.first;
    const char* const message = entry.second;
    const std::string edited = test::with_metadata(bytes, [&](std::string meta) {
      const std::string key =
          std::string(replacement).substr(0, std::string(replacement).find(':') + 1);
      return std::regex_replace(meta,
                                std::regex("(\"epoch_progress\":\\{[^}]*)" + key + "[-0-9.e+]+"),
                                "$1" + std::string(replacement));
    });
    ASSERT_NE(edited, bytes) << replacement;
    std::string e = "no error";
    try {
      decode_checkpoint(edited, "e.dpt");
    } catch (const Error& err) {
      e = err.what();
    }
    EXPECT_NE(e.find(message), std::string::npos) << replacement << ": " << e;
  }
}

/// Two loopback ranks train the same run; rank `asker` asks to stop after its step `at`.
std::vector<Checkpoint> ranks_stopped(const Dataset& d, std::size_t asker, std::uint64_t at) {
  auto comms = make_loopback_ranks(2);
  std::vector<Checkpoint> out(2);
  std::vector<std::thread> ranks;
  for (std::size_t r = 0; r < 2; ++r)
    ranks.emplace_back([&, r] {
      Model<float> m(spec());
      m.initialize(5);
      TrainConfig c = config(1);
      c.communicator = comms[r].get();
      Trainer* running = nullptr;
      c.on_step = [&](std::size_t, std::size_t) {
        if (r == asker && running->step_count() == at) running->request_stop();
      };
      Trainer t(m, c);
      running = &t;
      EXPECT_TRUE(t.fit(d, FitOptions{}).stopped) << "rank " << r;
      out[r] = t.checkpoint();
    });
  for (auto& t : ranks) t.join();
  return out;
}

TEST(StopResume, RanksAgreeOnTheStepTheyStopAfter) {
  const Dataset d = make_synthetic("blobs8", 1);
  for (std::size_t asker : {0u, 1u}) {
    const std::vector<Checkpoint> k = ranks_stopped(d, asker, 30);
    // The vote rides on the next step's sums: both ranks stop after step 31, together.
    EXPECT_EQ(k[0].step, 31u) << asker;
    EXPECT_EQ(k[1].step, k[0].step);
    EXPECT_EQ(k[1].epoch_progress.steps, k[0].epoch_progress.steps);
    EXPECT_EQ(k[1].parameters, k[0].parameters);
  }
}

}  // namespace
}  // namespace dptrain
