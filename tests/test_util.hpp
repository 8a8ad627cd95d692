#pragma once
// Helpers shared by the test files: random fills and the finite-difference gradient check.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/dptrain.hpp"

namespace dptrain::test {

/// The backend for tests that do not sweep backends: the first of DPTRAIN_TEST_BACKENDS (the
/// ThreadSanitizer job sets openmp,threads; see scripts/test.sh), else tbb.
inline parallel::Backend first_test_backend() {
  const char* list = std::getenv("DPTRAIN_TEST_BACKENDS");
  if (!list || !*list) return parallel::Backend::tbb;
  const std::string s(list);
  return parse_backend(s.substr(0, s.find(',')));
}

/// `bytes` with its metadata rewritten by `edit` (length and CRC fixed), as an old or edited
/// file would be.
inline std::string with_metadata(const std::string& bytes,
                                 const std::function<std::string(std::string)>& edit) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data() + 12, 8);
  const std::string meta = edit(bytes.substr(20, n));
  std::string out = bytes.substr(0, 12);
  const std::uint64_t m = meta.size();
  out.append(reinterpret_cast<const char*>(&m), 8);
  out += meta;
  out += bytes.substr(20 + n, bytes.size() - 20 - n - 4);
  const auto crc =
      std::uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), uInt(out.size())));
  out.append(reinterpret_cast<const char*>(&crc), 4);
  return out;
}

template <class T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = T(rng.uniform(lo, hi));
  return v;
}

/// Mean loss of `rows` samples and (optionally) its gradient, through Model<double>.
struct LossProbe {
  const Model<double>& model;
  Workspace<double>& ws;
  const std::vector<double>& x;
  std::size_t rows;
  Loss loss;
  TargetsView targets;
  DropoutKey key;
  bool training = true;
  mutable Activations<double> activations{model.spec(), rows};

  double value() const {
    const ActivationRows<double> a = activations.rows(0);
    model.forward(ws, a, x.data(), rows, training, key);
    return loss_forward_backward<double>(loss, model.spec().output_activation(), a.logits(), rows,
                                         model.spec().outputs(), targets, 1.0, ws.outputs(),
                                         nullptr) /
           double(rows);
  }
  std::vector<double> gradient() const {
    const ActivationRows<double> a = activations.rows(0);
    model.forward(ws, a, x.data(), rows, training, key);
    loss_forward_backward<double>(loss, model.spec().output_activation(), a.logits(), rows,
                                  model.spec().outputs(), targets, 1.0 / double(rows), ws.outputs(),
                                  a.logit_grad());
    std::vector<double> g(model.parameter_count());
    model.backward(ws, a, x.data(), rows, g.data());
    return g;
  }
};

/// `bytes` as one gzip member (RFC 1952), as gzip(1) writes it.
/// A .npy file (format version 1.0) with the header dict `dict` (padded as NumPy pads it) and
/// `data` after it.
inline std::string npy_file(const std::string& dict, std::string_view data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string s = "\x93NUMPY\x01";
  s += '\0';
  s += char(header.size() & 255);
  s += char(header.size() >> 8);
  return s + header + std::string(data);
}

inline std::string gzip_member(std::string_view bytes) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, uLong(bytes.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = uInt(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// Central differences on every parameter; returns the largest relative error
/// |analytic - numeric| / max(1e-3, |analytic| + |numeric|): relative for ordinary gradients,
/// absolute (x 1e3) for tiny ones, where central differences carry ~1e-10 rounding noise.
inline double max_gradient_error(Model<double>& model, const LossProbe& probe) {
  const std::vector<double> analytic = probe.gradient();
  auto params = model.parameters();
  double worst = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double saved = params[i];
    const double h = 1e-6;
    params[i] = saved + h;
    const double up = probe.value();
    params[i] = saved - h;
    const double down = probe.value();
    params[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err =
        std::abs(analytic[i] - numeric) / std::max(1e-3, std::abs(analytic[i]) + std::abs(numeric));
    worst = std::max(worst, err);
  }
  return worst;
}

/// A 64-48-32-10 relu/softmax classifier with 40 rows of random inputs (labels r % 10) and its
/// mean-CE gradient in float64 through the reference kernel: the yardstick for float kernels.
struct Float64Gradient {
  static constexpr std::size_t kRows = 40;
  ModelSpec spec = ModelSpec::mlp({64, 48, 32, 10}, Activation::relu, Activation::softmax);
  Model<double> model{spec};
  std::vector<double> x = random_vector<double>(kRows * 64, 11);
  std::vector<std::int32_t> labels;
  std::vector<double> gradient;

  Float64Gradient() {
    model.initialize(3);
    for (std::size_t r = 0; r < kRows; ++r) labels.push_back(std::int32_t(r % 10));
    Workspace<double> ws(spec, kRows, GemmBackend::reference);
    gradient = LossProbe{model, ws, x, kRows, Loss::ce, targets(), {}}.gradient();
  }
  TargetsView targets() const { return {labels.data(), nullptr, 1}; }
  /// The same gradient through float workspace `ws` on a float copy of the model.
  std::vector<float> float_gradient(Workspace<float>& ws, Model<float>& copy) const {
    const std::vector<float> xf(x.begin(), x.end());
    Activations<float> activations(spec, kRows);
    const ActivationRows<float> a = activations.rows(0);
    copy.forward(ws, a, xf.data(), kRows, true);
    loss_forward_backward<float>(Loss::ce, Activation::softmax, a.logits(), kRows, 10, targets(),
                                 1.0f / kRows, ws.outputs(), a.logit_grad());
    std::vector<float> grads(copy.parameter_count());
    copy.backward(ws, a, xf.data(), kRows, grads.data());
    return grads;
  }
  Model<float> float_model() const {
    Model<float> m(spec);
    std::copy(model.parameters().begin(), model.parameters().end(), m.parameters().begin());
    return m;
  }
};

}  // namespace dptrain::test
