#pragma once
// The projection of `dptrain scale`: measures the cost model's parameters on this machine
// (calibrate), then prints and records, per core count asked for, the plan with the lowest
// predicted step and its split, labelled PROJECTION, and for every measured point the predicted
// step beside the measured one (cost_model.hpp, Note [The cost model]).
#include <nlohmann/json.hpp>

#include "cost_model.hpp"
#include "scale_report.hpp"

namespace dptrain::cli {

/// Measures GEMM rates of `ref`'s layer shapes (single-threaded, rows = B, B/2, ..., 1, and one
/// weight-gradient tile per layer), memcpy bandwidth with 1 and with `cores` threads, and the
/// fork/join latency of a pool of 1..cores workers of `base.backend`. A few hundred ms.
Calibration calibrate(const Reference& ref, const TrainConfig& base, std::size_t cores);

/// The plan a measured point ran, in the model's terms.
PlanKind point_plan(const Point& p);

/// The model's step for a measured point, microseconds (NaN without a calibration).
double predicted_point_us(const ScaleSettings& s, const ScaleSweep& sweep, const Point& p);

/// Prints the calibration, the predicted-vs-measured lines and the PROJECTION table.
void print_projection(const ScaleSettings& s, const ScaleSweep& sweep);

/// The same for the JSON: calibration, assumptions, comparison and projection.
nlohmann::json projection_json(const ScaleSettings& s, const ScaleSweep& sweep);

}  // namespace dptrain::cli
