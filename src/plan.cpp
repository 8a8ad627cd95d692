#include "dptrain/plan.hpp"

#include <charconv>
#include <utility>

#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"

namespace dptrain {

namespace {

/// "4x2" -> {4, 2}; {0, 0} when `text` is not two whole numbers >= 1 around an 'x'.
std::pair<std::size_t, std::size_t> parse_groups(std::string_view text) {
  const std::size_t x = text.find('x');
  if (x == std::string_view::npos || x == 0 || x + 1 == text.size()) return {0, 0};
  std::size_t g = 0, t = 0;
  const char* end = text.data() + text.size();
  const auto a = std::from_chars(text.data(), text.data() + x, g);
  const auto b = std::from_chars(text.data() + x + 1, end, t);
  if (a.ec != std::errc() || a.ptr != text.data() + x || b.ec != std::errc() || b.ptr != end ||
      g == 0 || t == 0)
    return {0, 0};
  return {g, t};
}

}  // namespace

Plan parse_plan(std::string_view text) {
  const auto bad = [&] {
    return Error(
        "plan: expected auto, data, intra or GxT (G replica groups of T threads, e.g. "
        "4x2), optionally followed by /owner or /buffers, got '" +
        std::string(text) + "'");
  };
  Plan p;
  std::string_view shape = text;
  if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
    shape = text.substr(0, slash);
    const std::string_view strategy = text.substr(slash + 1);
    if (strategy == "owner")
      p.weight_gradients = WeightGradients::owner;
    else if (strategy == "buffers")
      p.weight_gradients = WeightGradients::buffers;
    else
      throw bad();
    if (shape == "auto")
      throw Error("plan '" + std::string(text) +
                  "': auto chooses the weight gradients too (drop /" + std::string(strategy) +
                  ", or name the plan: data, intra or GxT)");
  }
  if (shape == "auto") {
    p.automatic = true;
  } else if (shape == "data" || shape == "intra") {
    p.parallelism = parse_parallelism(shape);
  } else {
    const auto [groups, group_threads] = parse_groups(shape);
    if (groups == 0) throw bad();
    if (groups > kMaxThreads / group_threads)
      throw Error("plan " + std::string(text) + ": more than " + std::to_string(kMaxThreads) +
                  " threads");
    p.groups = groups;
    p.group_threads = group_threads;
  }
  return p;
}

std::string to_string(const Plan& p) {
  if (p.automatic) return "auto";
  std::string text;
  if (p.parallelism == Parallelism::intra)
    text = "intra";
  else if (p.groups)  // as written, 4x1 included
    text = std::to_string(p.groups) + "x" + std::to_string(p.group_threads);
  else
    text = p.group_threads <= 1 ? "data" : "Gx" + std::to_string(p.group_threads);
  if (p.weight_gradients != WeightGradients::automatic)
    text += std::string("/") + weight_gradients_name(p.weight_gradients);
  return text;
}

std::string plan_shape(const Plan& p, std::size_t threads) {
  if (p.automatic) return "auto";
  if (p.parallelism == Parallelism::intra) return "intra";
  if (p.group_threads <= 1) return "data";
  return std::to_string(threads / p.group_threads) + "x" + std::to_string(p.group_threads);
}

void check_plan(const Plan& p, std::size_t threads) {
  if (p.automatic)
    throw Error(
        "plan auto is chosen by measuring (tuning::choose_plan; Trainer does it at "
        "construction): an engine needs a fixed plan");
  if (p.group_threads == 0 || threads % p.group_threads != 0)
    throw Error("threads per group (" + std::to_string(p.group_threads) +
                    ") must divide the threads (" + std::to_string(threads) + ")",
                ErrorTopic::threads);
  if (p.group_threads > 1 && p.parallelism != Parallelism::data)
    throw Error(
        "replica groups (a GxT plan) are a data-parallel plan; intra already splits "
        "every product over all threads");
  if (p.groups && p.groups * p.group_threads != threads)
    throw Error("plan " + to_string(p) + " runs " + std::to_string(p.groups * p.group_threads) +
                    " threads, but threads is " + std::to_string(threads),
                ErrorTopic::threads);
}

}  // namespace dptrain
