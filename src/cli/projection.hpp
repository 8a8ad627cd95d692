#pragma once
// The projection of `dptrain scale`: with the cost model's parameters measured on this machine
// (tuning::calibrate), prints and records, per core count asked for, the plan with the lowest
// predicted step and its split, labelled PROJECTION, and for every measured point the predicted
// step beside the measured one (tuning.hpp, Note [The cost model]).
#include <nlohmann/json.hpp>

#include "scale_report.hpp"

namespace dptrain::cli {

/// The plan a measured point ran, in the model's terms.
PlanKind point_plan(const Point& p);

/// The model's step for a measured point, microseconds (NaN without a calibration).
double predicted_point_us(const ScaleSettings& s, const ScaleSweep& sweep, const Point& p);

/// Prints the calibration, the predicted-vs-measured lines and the PROJECTION table.
void print_projection(const ScaleSettings& s, const ScaleSweep& sweep);

/// The same for the JSON: calibration, assumptions, comparison and projection.
nlohmann::json projection_json(const ScaleSettings& s, const ScaleSweep& sweep);

}  // namespace dptrain::cli
