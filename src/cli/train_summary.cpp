// The closing lines of `dptrain train` (train_summary.hpp).
#include "train_summary.hpp"

#include <cstdio>

namespace dptrain::cli {

void RunSummary::add(const EpochReport& e) {
  if (first_epoch == 0) first_epoch = e.train.epoch;
  last_epoch = e.train.epoch;
  train_seconds += e.train.seconds;
  samples += e.train.samples_per_second * e.train.seconds;
  if (e.validation && (!best || e.validation->loss < best->loss))
    best = e.validation, best_epoch = e.train.epoch;
}

std::string metrics_text(const Evaluation& e, const char* prefix) {
  char buf[160];
  if (e.classification)
    std::snprintf(buf, sizeof buf, "%sacc %.4f", prefix, e.metric());
  else
    std::snprintf(buf, sizeof buf, "%smse %.6g, %srmse %.6g, %smae %.6g, %sr2 %.4f", prefix,
                  e.regression.mse(), prefix, e.regression.rmse(), prefix, e.regression.mae(),
                  prefix, e.regression.r2());
  return buf;
}

void print_summary(const RunSummary& s, const FitResult& result,
                   const std::optional<Evaluation>& test) {
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
  std::string line = "summary: ";
  char buf[200];
  std::snprintf(buf, sizeof buf, "data loaded in %.2fs; ", s.load_seconds);
  line += buf;
  if (s.last_epoch == 0) {
    line += "no epochs trained (the checkpoint had done them all)";
  } else {
    std::snprintf(buf, sizeof buf, "epochs %zu-%zu in %.2fs (%.0f samples/s)", s.first_epoch,
                  s.last_epoch, wall, s.train_seconds > 0 ? s.samples / s.train_seconds : 0.0);
    line += buf;
  }
  if (result.stopped_early) line += ", stopped early";
  if (s.best) {
    std::snprintf(buf, sizeof buf, "; best epoch %zu (val_loss %.4f, ", s.best_epoch, s.best->loss);
    line += buf + metrics_text(*s.best, "val_");
    if (result.stopped_early)
      line += result.restored_best ? ", restored"
                                   : ", the best weights predate the resume: kept the last";
    if (s.standardised_targets) line += ", in standard units";
    line += ")";
  }
  if (test) {
    std::snprintf(buf, sizeof buf, "; test_loss %.4f, ", test->loss);
    line += buf + metrics_text(*test, "test_");
  }
  std::printf("%s\n", line.c_str());
}

Evaluation test_in_data_units(const Model<float>& model, const TrainData& d,
                              const TrainConfig& config) {
  Model<float> folded = model.clone();
  d.target_normalizer.fold_into(folded);
  Dataset raw = *d.test;
  raw.targets = d.test_targets;
  InferenceOptions options;
  options.gemm = config.gemm;
  options.kernels = config.kernels;
  return evaluate(folded, raw, config.loss, options);
}

}  // namespace dptrain::cli
