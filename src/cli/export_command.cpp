// dptrain export: a trained checkpoint as a model other runtimes serve (ONNX).
#include <chrono>
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "dptrain/checkpoint.hpp"
#include "dptrain/error.hpp"
#include "dptrain/onnx_export.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

/// The format of --format, or from the extension of `out` when --format is not given.
std::string export_format(const cxxopts::ParseResult& r, const std::string& out) {
  if (r.count("format")) {
    const std::string f = r["format"].as<std::string>();
    if (f != "onnx") throw Error("--format: unknown export format '" + f + "' (formats: onnx)");
    return f;
  }
  const std::string ext = ".onnx";
  if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
    return "onnx";
  throw Error("--out: cannot tell the export format from '" + out +
              "': name a .onnx file or give --format onnx");
}

}  // namespace

int export_command(int argc, char** argv) {
  cxxopts::Options options(
      "dptrain export",
      "Write a trained checkpoint as an ONNX model (README, \"dptrain export\"): input\n"
      "normalisation, dense layers and activations as trained, outputs 'probabilities' and\n"
      "'label' (classifiers) or 'variable' (regressors, in the data's units), any batch size.");
  options.add_options()("model", "checkpoint to export", cxxopts::value<std::string>())(
      "out", "file to write (atomically)", cxxopts::value<std::string>())(
      "format", "onnx (default: from the extension of --out)", cxxopts::value<std::string>())(
      "h,help", "print help");
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  if (!r.count("model")) throw Error("--model <checkpoint.dpt> is required");
  if (!r.count("out")) throw Error("--out <model.onnx> is required");
  const std::string model = r["model"].as<std::string>(), out = r["out"].as<std::string>();
  export_format(r, out);
  check_output_path(out, "out", {model}, false);
  const Checkpoint c = load_checkpoint(model);
  const auto start = std::chrono::steady_clock::now();
  const std::string bytes = encode_onnx(c);
  write_output(out, bytes, "out");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "dptrain export: wrote %s (%s, %zu bytes) in %.3fs\n", out.c_str(),
               c.spec.describe().c_str(), bytes.size(), seconds);
  return 0;
}

}  // namespace dptrain::cli
