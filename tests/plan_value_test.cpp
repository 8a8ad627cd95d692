// The Plan value (plan.hpp): its text form both ways and its checks; Plan auto resolved by the
// library (tuning::choose_plan, Trainer); step-level checkpoints (TrainConfig::checkpoint_every).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/tuning.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

std::string parse_error(const std::string& text) {
  try {
    parse_plan(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(Plan, ParsesEveryForm) {
  EXPECT_EQ(parse_plan("data"), Plan{});
  EXPECT_TRUE(parse_plan("auto").automatic);
  EXPECT_EQ(parse_plan("intra").parallelism, Parallelism::intra);
  const Plan g = parse_plan("4x2/owner");
  EXPECT_EQ(g.parallelism, Parallelism::data);
  EXPECT_EQ(g.groups, 4u);
  EXPECT_EQ(g.group_threads, 2u);
  EXPECT_EQ(g.weight_gradients, WeightGradients::owner);
  EXPECT_EQ(parse_plan("data/buffers").weight_gradients, WeightGradients::buffers);
  EXPECT_EQ(parse_plan("1x3").groups, 1u);
}

TEST(Plan, ToStringRoundTrips) {
  for (const char* text : {"auto", "data", "intra", "4x2", "1x1", "16x1", "data/owner",
                           "data/buffers", "intra/buffers", "4x2/owner", "2x8/buffers"}) {
    EXPECT_EQ(to_string(parse_plan(text)), text);
    EXPECT_EQ(parse_plan(to_string(parse_plan(text))), parse_plan(text)) << text;
  }
  Plan open;  // T without G: threads / T, not a text parse_plan reads
  open.group_threads = 2;
  EXPECT_EQ(to_string(open), "Gx2");
  EXPECT_EQ(plan_shape(open, 8), "4x2");
  EXPECT_EQ(plan_shape(parse_plan("intra/buffers"), 8), "intra");
  EXPECT_EQ(plan_shape(parse_plan("data/owner"), 8), "data");
}

TEST(Plan, RefusesMalformedTextWithOneMessage) {
  const std::string expected =
      "plan: expected auto, data, intra or GxT (G replica groups of T threads, e.g. 4x2), "
      "optionally followed by /owner or /buffers, got '";
  for (const char* text : {"", "2y2", "0x2", "2x0", "x2", "2x", "4x2x1", "data/", "data/tiles",
                           "Data", " data", "4x2/owner/buffers", "-1x2"})
    EXPECT_EQ(parse_error(text), expected + text + "'") << text;
  EXPECT_EQ(parse_error("auto/owner"),
            "plan 'auto/owner': auto chooses the weight gradients too (drop /owner, or name the "
            "plan: data, intra or GxT)");
  EXPECT_EQ(parse_error("2000x2"), "plan 2000x2: more than 1024 threads");
}

TEST(Plan, ChecksAgainstTheThreads) {
  EXPECT_NO_THROW(check_plan(parse_plan("4x2"), 8));
  EXPECT_NO_THROW(check_plan(parse_plan("intra"), 3));
  Plan open;
  open.group_threads = 2;
  EXPECT_NO_THROW(check_plan(open, 6));
  EXPECT_THROW(check_plan(open, 5), Error);
  try {
    check_plan(parse_plan("4x2"), 6);
    ADD_FAILURE() << "4x2 on 6 threads";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "plan 4x2 runs 8 threads, but threads is 6");
    EXPECT_EQ(e.topic(), ErrorTopic::threads);
  }
  EXPECT_THROW(check_plan(parse_plan("auto"), 2), Error);
  Plan intra_groups = parse_plan("intra");
  intra_groups.group_threads = 2;
  EXPECT_THROW(check_plan(intra_groups, 4), Error);
}

TEST(Plan, AutoIsResolvedBeforeAnEngineRuns) {
  Model<float> m(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  EngineConfig e;
  e.plan = parse_plan("auto");
  EXPECT_THROW(Engine(m, e), Error);  // an engine needs a fixed plan
  TrainConfig c;
  c.plan = parse_plan("auto");
  EXPECT_NO_THROW(c.validate());  // checked as the data plan
  c.threads = 1;
  Trainer t(m, c);  // one thread: data, without measuring
  EXPECT_EQ(t.config().plan, Plan{});
  EXPECT_EQ(t.plan_choice(), "plan auto: data (one thread)");
}

TEST(Plan, ChoosePlanMeasuresTheShortlistAndPicksAFixedPlan) {
  TrainConfig c;
  c.threads = 2;
  c.batch_size = 64;
  c.plan = parse_plan("auto");
  const std::vector<std::size_t> widths{8, 64, 2};
  const std::string line = tuning::choose_plan(widths, c);
  EXPECT_FALSE(c.plan.automatic);
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(line.rfind("plan auto: " + to_string(c.plan) +
                           " (us per step, measured / predicted: "
                           "data/owner ",
                       0),
            0u)
      << line;
  // The Trainer does the same for a config that asks for auto.
  Model<float> m(ModelSpec::mlp(widths, Activation::relu, Activation::softmax));
  m.initialize(1);
  TrainConfig a;
  a.threads = 2;
  a.plan = parse_plan("auto");
  Trainer t(m, a);
  EXPECT_FALSE(t.config().plan.automatic);
  EXPECT_EQ(t.plan_choice().rfind("plan auto: " + to_string(t.config().plan) + " (", 0), 0u);
}

// blobs8: 768 rows, 24 steps of 32 per epoch.
TrainConfig checkpoint_config() {
  TrainConfig c;
  c.batch_size = 32;
  c.epochs = 2;
  c.threads = 2;
  c.deterministic = true;
  c.micro_batches = 4;
  c.min_flops_per_worker = 0;
  c.schedule.kind = ScheduleKind::cosine;
  return c;
}

ModelSpec checkpoint_spec() {
  return ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax, 0.2);
}

TEST(CheckpointEvery, WritesAtEveryNthStepButAnEpochsLast) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(checkpoint_spec());
  m.initialize(5);
  TrainConfig c = checkpoint_config();
  std::vector<std::uint64_t> at;
  c.checkpoint_every.steps = 8;
  c.checkpoint_every.sink = [&](const Trainer& t) { at.push_back(t.step_count()); };
  Trainer t(m, c);
  t.fit(d);
  // Steps 8, 16 (24 ends epoch 1: the caller's), 32, 40 (48 ends epoch 2).
  EXPECT_EQ(at, (std::vector<std::uint64_t>{8, 16, 32, 40}));
}

TEST(CheckpointEvery, ResumingFromOneGivesTheSameBits) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> straight(checkpoint_spec());
  straight.initialize(5);
  Trainer(straight, checkpoint_config()).fit(d);

  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("dptrain_every_" + std::to_string(::getpid()));
  Model<float> m(checkpoint_spec());
  m.initialize(5);
  TrainConfig c = checkpoint_config();
  c.checkpoint_every.steps = 10;  // steps 10, 20, 30 and 40: the file holds step 40
  c.checkpoint_every.path = path.string();
  Trainer first(m, c);
  first.fit(d);
  const Checkpoint k = load_checkpoint(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(k.epochs_done, 1u);
  EXPECT_EQ(k.epoch_progress.steps, 16u);  // step 40 = epoch 2's 16th

  Model<float> resumed = model_from_checkpoint(k);
  TrainConfig r = checkpoint_config();
  r.threads = 3;  // deterministic: the same bits for any thread count
  Trainer t(resumed, r);
  t.restore(k);
  t.fit(d);
  EXPECT_EQ(params_hash<float>(resumed.parameters()), params_hash<float>(straight.parameters()));
  EXPECT_EQ(params_hash<float>(m.parameters()), params_hash<float>(straight.parameters()));
}

TEST(CheckpointEvery, RefusesNegativeSeconds) {
  TrainConfig c;
  c.checkpoint_every.seconds = -1;
  EXPECT_THROW(c.validate(), Error);
}

}  // namespace
}  // namespace dptrain
