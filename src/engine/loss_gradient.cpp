// Engine::loss_gradient: the full-batch objective of Note [Full-batch gradient] in engine.hpp,
// through the step's own phase 1 and weight-update strategy.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "dptrain/engine.hpp"
#include "dptrain/error.hpp"
#include "weight_update.hpp"

namespace dptrain {

namespace {

bool has_dropout(const ModelSpec& spec) {
  return std::any_of(spec.layers.begin(), spec.layers.end(), [](const LayerSpec& l) {
    return l.kind == LayerSpec::Kind::dropout && l.rate > 0;
  });
}

}  // namespace

LossGradient Engine::loss_gradient(const Dataset& data, std::span<const std::uint32_t> rows,
                                   std::span<float> gradient) {
  if (has_dropout(model_.spec()))
    throw Error("the full-batch loss and gradient (L-BFGS) need a model without dropout (" +
                model_.spec().describe() + "): dropout makes every evaluation another objective");
  if (config_.communicator)
    throw Error("the full-batch loss and gradient (L-BFGS) run in one process, not across ranks");
  if (rows.empty() || gradient.size() != model_.parameter_count())
    throw std::invalid_argument(
        "Engine::loss_gradient: precondition failed: rows not empty, gradient of " +
        std::to_string(model_.parameter_count()) + " values");
  if (data.features != model_.spec().inputs || !data.labelled())
    throw std::invalid_argument("Engine::loss_gradient: precondition failed: data '" + data.source +
                                "' must be labelled and have the model's " +
                                std::to_string(model_.spec().inputs) + " features (check_data)");
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  std::fill(gradient.begin(), gradient.end(), 0.0f);
  const float scale = 1.0f / float(rows.size());
  StepStats sum;
  for (std::size_t begin = 0; begin < rows.size(); begin += config_.batch_size) {
    const std::span<const std::uint32_t> pass =
        rows.subspan(begin, std::min(config_.batch_size, rows.size() - begin));
    prepare(pass.size());  // a size already prepared costs nothing
    const parallel::RowPartition p = partition(pass.size());
    const StepStats s = phase_one(p, data, pass, scale);
    update_->add_gradient(p, gradient);
    sum.loss_sum += s.loss_sum;
    sum.metric_sum += s.metric_sum;
  }
  LossGradient r;
  r.data_loss = sum.loss_sum / double(rows.size());
  r.metric_sum = sum.metric_sum;
  const double l2 = config_.optimizer.l2;
  const std::span<const float> w = model_.parameters().first(model_.weight_count());
  double squares = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    squares += double(w[i]) * double(w[i]);
    gradient[i] += float(l2) * w[i];
  }
  r.loss = r.data_loss + 0.5 * l2 * squares;
  return r;
}

}  // namespace dptrain
