#include "workloads.hpp"

#include <cstdint>

#include "options.hpp"

namespace dptrain::cli {

const std::vector<Reference>& references() {
  using A = Activation;
  using O = OptimizerKind;
  static const std::vector<Reference> refs = {
      {{"A", {784, 128, 10}, A::relu, A::softmax, Loss::ce, O::adam, 1e-3, 128},
       "784-128-10 relu/softmax CE, Adam, batch 128",
       "fashion-mnist",
       8192,
       500},
      {{"B", {784, 1024, 1024, 10}, A::relu, A::softmax, Loss::ce, O::momentum, 1e-2, 256},
       "784-1024-1024-10 relu/softmax CE, SGD momentum, batch 256",
       "fashion-mnist",
       8192,
       100},
      {{"C", {8, 10, 8, 1}, A::relu, A::sigmoid, Loss::bce, O::adam, 1e-3, 32},
       "8-10-8-1 relu/sigmoid BCE, Adam, batch 32",
       "blobs8",
       0,
       1000},
      {{"xor", {2, 3, 1}, A::sigmoid, A::sigmoid, Loss::bce, O::sgd, 0.5, 4},
       "2-3-1 sigmoid BCE, SGD, batch 4",
       "xor",
       0,
       2000},
      {{"square", {1, 10, 1}, A::relu, A::identity, Loss::mse, O::adam, 1e-2, 32},
       "1-10-1 relu MSE, Adam, batch 32",
       "square",
       0,
       1000},
  };
  return refs;
}

const Reference& find_reference(const std::string& name, const std::string& option) {
  for (const Reference& ref : references())
    if (ref.name == name) return ref;
  throw Error("--" + option + ": unknown model '" + name + "' (expected A, B, C, xor, square)");
}

std::vector<const Reference*> parse_reference_list(const std::string& list,
                                                   const std::string& option) {
  std::vector<const Reference*> chosen;
  for (const std::string& name : split_list(list)) chosen.push_back(&find_reference(name, option));
  return chosen;
}

Reference custom_reference(const std::vector<std::size_t>& widths, std::size_t batch) {
  if (widths.size() < 2) throw Error("--layers needs at least an input and an output width");
  Reference r;
  static_cast<Workload&>(r) = custom_workload(widths, batch);
  const bool binary = widths.back() == 1;
  r.what = widths_text(widths) + (binary ? " relu/sigmoid BCE" : " relu/softmax CE") +
           ", Adam, batch " + std::to_string(batch);
  return r;
}

std::string widths_text(const std::vector<std::size_t>& widths) {
  std::string text;
  for (std::size_t w : widths) {
    if (!text.empty()) text += '-';
    text += std::to_string(w);
  }
  return text;
}

}  // namespace dptrain::cli
