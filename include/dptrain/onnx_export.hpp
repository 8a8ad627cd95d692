#pragma once
// Export of a trained model as an ONNX graph (Note [ONNX graph] in src/onnx_export.cpp), built
// with the ONNX project's own C++ classes (Debian's libonnx-dev) and checked by its checker
// before anything is written. The graph answers what `dptrain predict` answers for the same
// rows: the checkpoint's input normalisation, every dense layer and activation, the output
// activation as trained, regression outputs in the data's units (--normalize-target folded into
// the last layer); dropout, a training-only layer, is left out. bf16-trained models export their
// fp32 weights (a checkpoint holds no other).
//
//   input          float [N, features]  (N: any batch size)
//   probabilities  float [N, classes]   classifiers ([N, 2]: 1 - p, p for one sigmoid unit)
//   label          int64 [N]: the class index, or its name when the classes have names
//                  (DataSchema): int64 when every name is an integer, else string
//   variable       float [N, targets]   regressors
//
// The output names are skl2onnx's. metadata_props carry the schema (feature_names,
// class_names as JSON arrays, label_column, task), the model description and the normalisation.
// IR version 7 and opset 13 (ai.onnx): ONNX 1.12 and every ONNX Runtime since 1.6 accept both.
#include <string>

#include "dptrain/checkpoint.hpp"

namespace dptrain {

/// The largest serialised ONNX model: protobuf messages are limited to 2 GiB, and dptrain does
/// not write ONNX's external-data form.
inline constexpr std::size_t kMaxOnnxBytes = (std::size_t{1} << 31) - 1;

/// True when this build has ONNX support (CMake found libonnx-dev); else export refuses.
bool onnx_export_available();

/// The ONNX model of `c` as serialised bytes. Throws dptrain::Error when it cannot be exported:
/// a build without ONNX support, parameters that would exceed kMaxOnnxBytes, a normaliser or
/// schema that does not fit the model, a model the ONNX checker rejects (a dptrain bug, named as
/// such). Every model dptrain can train today exports.
std::string encode_onnx(const Checkpoint& c);

/// encode_onnx written to `path` atomically (write_file_atomically in io.hpp: the same refusals
/// as checkpoints, e.g. a path through a file descriptor). Nothing is written on any error.
void export_onnx(const Checkpoint& c, const std::string& path);

}  // namespace dptrain
