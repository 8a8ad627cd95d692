#pragma once
// RunSettings in a checkpoint's JSON metadata (checkpoint.hpp), from the field table of Note
// [Run settings] in src/run_settings.cpp.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dptrain/run_settings.hpp"

namespace dptrain::detail {

/// A size or count in the metadata. nlohmann's get<std::size_t>() casts floats (undefined
/// behaviour beyond the range: 1e30) and negative numbers (-1 becomes 2^64 - 1) without a check.
/// Throws dptrain::Error "'key' must be a whole number >= 0, not ...".
std::uint64_t whole(const nlohmann::json& parent, const char* key);

/// Every setting into `meta` under its key ("optimizer/learning_rate": meta["optimizer"]
/// ["learning_rate"]).
void settings_to_json(const RunSettings& settings, nlohmann::json& meta);

/// Every setting from `meta`; a setting that older files lack and `meta` lacks keeps its value
/// in `settings` and its key goes into `unrecorded`. Throws dptrain::Error (a bad value or
/// name) or nlohmann::json::exception (a missing key or a wrong type).
void settings_from_json(const nlohmann::json& meta, RunSettings& settings,
                        std::vector<std::string>& unrecorded);

}  // namespace dptrain::detail
