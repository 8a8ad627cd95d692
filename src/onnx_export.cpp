#include "dptrain/onnx_export.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/trainer.hpp"
#include "dptrain/version.hpp"

#if DPTRAIN_HAVE_ONNX
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#endif

// Note [ONNX graph]. What `dptrain export` writes, node by node:
//   input -> Sub(norm_offset) -> Mul(norm_scale)          only with --normalize standard|minmax
//         -> Gemm(W_k^T, b_k, transB=1) -> activation    per dense layer k
//         -> the outputs (onnx_export.hpp)
// Normalisation stays as explicit Sub and Mul nodes rather than folded into the first layer:
// they compute (x - offset) * scale exactly as Normalizer::apply does, so the exported model
// rounds the same way dptrain does, and the offsets and scales stay readable in the file.
// --normalize-target is folded into the last layer with TargetNormalizer::fold_into, the very
// function `dptrain predict` uses, so regression outputs are in the data's units. Weights are
// stored transposed (out x in, Gemm transB=1): OpenCV's dnn importer accepts only that form of
// Gemm, and it is also what PyTorch's exporter writes. Activations map one to one: Relu,
// LeakyRelu (alpha kLeakyReluSlope), Tanh, Sigmoid, Softmax (axis 1); identity adds no node.
// A classifier's label is ArgMax over the probabilities (first maximum, as predicted_class),
// or p >= 0.5 for one sigmoid unit, then Gather over the class names when the classes have
// names: an int64 tensor when every name is an integer ("-1", "7"), else a string tensor. Every
// tensor is fp32 (a bf16 run's checkpoint holds fp32 weights).
namespace dptrain {

#if DPTRAIN_HAVE_ONNX

namespace {

using json = nlohmann::json;

void add_initializer(onnx::GraphProto& g, const std::string& name, std::vector<std::int64_t> dims,
                     const float* data, std::size_t count) {
  onnx::TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) t->add_dims(d);
  t->set_raw_data(reinterpret_cast<const char*>(data), count * sizeof(float));
}

onnx::NodeProto& add_node(onnx::GraphProto& g, const std::string& op,
                          std::vector<std::string> inputs, const std::string& output) {
  onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(output);
  return *n;
}

void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, int elem_type,
                    std::vector<std::int64_t> dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("N");  // the batch dimension: any number of rows
  for (std::int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

/// The activation of a dense layer on `in`; returns the name of its output.
std::string add_activation(onnx::GraphProto& g, Activation a, const std::string& in,
                           const std::string& out) {
  switch (a) {
    case Activation::identity:
      return in;
    case Activation::relu:
      add_node(g, "Relu", {in}, out);
      return out;
    case Activation::leaky_relu: {
      onnx::NodeProto& n = add_node(g, "LeakyRelu", {in}, out);
      onnx::AttributeProto* alpha = n.add_attribute();
      alpha->set_name("alpha");
      alpha->set_type(onnx::AttributeProto::FLOAT);
      alpha->set_f(static_cast<float>(kLeakyReluSlope));
      return out;
    }
    case Activation::tanh:
      add_node(g, "Tanh", {in}, out);
      return out;
    case Activation::sigmoid:
      add_node(g, "Sigmoid", {in}, out);
      return out;
    case Activation::softmax:
      set_int(add_node(g, "Softmax", {in}, out), "axis", 1);
      return out;
  }
  throw Error(std::string("activation '") + activation_name(a) + "' has no ONNX form");
}

/// Sub and Mul nodes of the input normalisation (Note [ONNX graph]); returns their output.
std::string add_normalization(onnx::GraphProto& g, const Normalizer& n, std::size_t inputs) {
  if (!n.active()) return "input";
  if (n.offset.size() != inputs || n.scale.size() != inputs)
    throw Error("the checkpoint's normalisation has " + std::to_string(n.offset.size()) +
                " features but the model takes " + std::to_string(inputs));
  const auto f = static_cast<std::int64_t>(inputs);
  add_initializer(g, "norm_offset", {f}, n.offset.data(), inputs);
  add_initializer(g, "norm_scale", {f}, n.scale.data(), inputs);
  add_node(g, "Sub", {"input", "norm_offset"}, "centred");
  add_node(g, "Mul", {"centred", "norm_scale"}, "normalized");
  return "normalized";
}

/// The dense layers and activations; returns the name of the last activation's output.
std::string add_layers(onnx::GraphProto& g, const Model<float>& model, std::string x) {
  const std::vector<DenseLayout>& layers = model.dense_layers();
  const float* p = model.parameters().data();
  std::vector<float> wt;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const DenseLayout& d = layers[k];
    wt.resize(d.in * d.out);
    const float* w = p + d.weight_offset;  // in x out, row-major
    for (std::size_t i = 0; i < d.in; ++i)
      for (std::size_t o = 0; o < d.out; ++o) wt[o * d.in + i] = w[i * d.out + o];
    const std::string id = std::to_string(k);
    const auto in = static_cast<std::int64_t>(d.in), out = static_cast<std::int64_t>(d.out);
    add_initializer(g, "W" + id, {out, in}, wt.data(), wt.size());
    add_initializer(g, "b" + id, {out}, p + d.bias_offset, d.out);
    set_int(add_node(g, "Gemm", {x, "W" + id, "b" + id}, "dense" + id), "transB", 1);
    const bool last = k + 1 == layers.size();
    x = add_activation(g, d.activation, "dense" + id, last ? "output" : "act" + id);
  }
  return x;
}

/// True for class names such as "-1" or "42", which label as int64 (as scikit-learn's integer
/// classes do in skl2onnx); others ("setosa", "0.5") label as strings.
bool is_integer(const std::string& name) {
  if (name.empty() || name.size() > 18) return false;
  const std::size_t first = name[0] == '-' ? 1 : 0;
  return first < name.size() &&
         std::all_of(name.begin() + static_cast<std::ptrdiff_t>(first), name.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; });
}

/// probabilities and label of a classifier whose output activation left `out` (Note [ONNX
/// graph]).
void add_classifier_outputs(onnx::GraphProto& g, const Checkpoint& c, const std::string& out) {
  const std::size_t units = c.spec.outputs();
  const std::string index = c.schema.class_names.empty() ? "label" : "label_index";
  if (units == 1) {
    const float one = 1.0f, half = 0.5f;
    add_initializer(g, "one", {}, &one, 1);
    add_initializer(g, "half", {}, &half, 1);
    add_node(g, "Sub", {"one", out}, "p0");
    set_int(add_node(g, "Concat", {"p0", out}, "probabilities"), "axis", 1);
    add_node(g, "GreaterOrEqual", {out, "half"}, "positive");
    set_int(add_node(g, "Cast", {"positive"}, "positive_int"), "to", onnx::TensorProto::INT64);
    const std::int64_t axes = 1;
    onnx::TensorProto* t = g.add_initializer();
    t->set_name("axis1");
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(1);
    t->add_int64_data(axes);
    add_node(g, "Squeeze", {"positive_int", "axis1"}, index);
  } else {
    add_node(g, "Identity", {out}, "probabilities");
    onnx::NodeProto& argmax = add_node(g, "ArgMax", {"probabilities"}, index);
    set_int(argmax, "axis", 1);
    set_int(argmax, "keepdims", 0);
  }
  const std::size_t classes = units == 1 ? 2 : units;
  const std::vector<std::string>& names = c.schema.class_names;
  const bool integers = std::all_of(names.begin(), names.end(), is_integer);
  if (!names.empty()) {
    onnx::TensorProto* t = g.add_initializer();
    t->set_name("class_names");
    t->set_data_type(integers ? onnx::TensorProto::INT64 : onnx::TensorProto::STRING);
    t->add_dims(static_cast<std::int64_t>(names.size()));
    for (const std::string& name : names)
      if (integers)
        t->add_int64_data(std::stoll(name));
      else
        t->add_string_data(name);
    set_int(add_node(g, "Gather", {"class_names", index}, "label"), "axis", 0);
  }
  add_value_info(g.add_output(), "label",
                 integers ? onnx::TensorProto::INT64 : onnx::TensorProto::STRING, {});
  add_value_info(g.add_output(), "probabilities", onnx::TensorProto::FLOAT,
                 {static_cast<std::int64_t>(classes)});
}

void add_metadata(onnx::ModelProto& m, const Checkpoint& c) {
  const auto put = [&m](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  };
  put("task", c.classes > 0 ? "classification" : "regression");
  put("model", c.spec.describe());
  put("loss", loss_name(c.loss));
  put("normalization", normalization_name(c.normalizer.kind));
  put("target_normalization", c.target_normalizer.active() ? "folded into the last layer" : "none");
  if (!c.schema.feature_names.empty()) put("feature_names", json(c.schema.feature_names).dump());
  if (!c.schema.class_names.empty()) put("class_names", json(c.schema.class_names).dump());
  if (!c.schema.label_column.empty()) put("label_column", c.schema.label_column);
  if (c.classes > 0) put("classes", std::to_string(c.classes));
}

onnx::ModelProto build_model(const Checkpoint& c) {
  Model<float> model = model_from_checkpoint(c);
  c.target_normalizer.fold_into(model);  // a no-op when inactive; outputs in the data's units
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("dptrain");
  m.set_producer_version(version_string);
  m.set_doc_string("dptrain " + c.spec.describe());
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("dptrain");
  add_value_info(g.add_input(), "input", onnx::TensorProto::FLOAT,
                 {static_cast<std::int64_t>(c.spec.inputs)});
  const std::string out = add_layers(g, model, add_normalization(g, c.normalizer, c.spec.inputs));
  if (c.classes > 0) {
    add_classifier_outputs(g, c, out);
  } else {
    add_node(g, "Identity", {out}, "variable");
    add_value_info(g.add_output(), "variable", onnx::TensorProto::FLOAT,
                   {static_cast<std::int64_t>(c.spec.outputs())});
  }
  add_metadata(m, c);
  return m;
}

}  // namespace

bool onnx_export_available() {
  return true;
}

std::string encode_onnx(const Checkpoint& c) {
  c.spec.validate();
  if (c.parameters.size() * sizeof(float) > kMaxOnnxBytes - (std::size_t{1} << 20))
    throw Error("model " + c.spec.describe() + " has " + std::to_string(c.parameters.size()) +
                " parameters, more than one ONNX file can hold (2 GiB; dptrain does not write "
                "ONNX's external-data form)");
  const std::size_t classes = c.spec.outputs() == 1 ? 2 : c.spec.outputs();
  if (c.classes > 0 && !c.schema.class_names.empty() && c.schema.class_names.size() != classes)
    throw Error("the checkpoint names " + std::to_string(c.schema.class_names.size()) +
                " classes but its model has " + std::to_string(classes));
  const onnx::ModelProto m = build_model(c);
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw Error(std::string("internal error: the ONNX checker rejects the exported graph of ") +
                c.spec.describe() + ": " + e.what());
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    throw Error("could not serialise the ONNX model of " + c.spec.describe());
  return bytes;
}

#else  // no ONNX library in this build

bool onnx_export_available() {
  return false;
}

std::string encode_onnx(const Checkpoint&) {
  throw Error(
      "this dptrain was built without ONNX support: install libonnx-dev and libprotobuf-dev "
      "(scripts/setup.sh) and rebuild");
}

#endif

void export_onnx(const Checkpoint& c, const std::string& path) {
  check_output_file(path);
  write_file_atomically(path, encode_onnx(c));
}

void Trainer::export_onnx(const std::string& path, const Normalizer& normalizer,
                          const TargetNormalizer& target) const {
  Checkpoint c = checkpoint();
  c.normalizer = normalizer;
  c.target_normalizer = target;
  dptrain::export_onnx(c, path);
}

}  // namespace dptrain
