#include "dptrain/run_settings.hpp"

#include <charconv>
#include <tuple>
#include <type_traits>

#include "dptrain/error.hpp"
#include "run_settings_json.hpp"

namespace dptrain {

namespace {

using json = nlohmann::json;

// Note [Run settings]. Every setting of RunSettings has one row in kFields below: its key in a
// checkpoint's metadata ("a/b" nests b in object a), the `dptrain train` flag that sets it,
// the member, whether a resume may change it, and whether checkpoints written before it
// existed lack it. The checkpoint's JSON writer and reader, differences() (the CLI's "--lr 0.5
// differs from checkpoint" refusal), describe() (the ranks' agreement fingerprint) and
// apply_checkpoint_settings() all walk this table, and each value's text, JSON and parsing
// come from its type (an enum through its name table). To add a setting: a member in
// RunSettings and a row here (optional, if older checkpoints lack it); nothing else lists them.

enum class Resume { keeps, may_change };
enum class Since { always, newer };  // newer: older checkpoints lack it (Checkpoint::unrecorded)

template <class Get>
struct Field {
  const char* key;
  const char* flag;
  Get get;  // the member of a RunSettings, const or not
  Resume resume = Resume::keeps;
  Since since = Since::always;
};
template <class Get>
constexpr Field<Get> field(const char* key, const char* flag, Get get,
                           Resume resume = Resume::keeps, Since since = Since::always) {
  return {key, flag, get, resume, since};
}

const auto kFields = std::make_tuple(
    field(
        "loss", "loss", [](auto& s) -> auto& { return s.loss; }),
    field(
        "optimizer/kind", "optimizer", [](auto& s) -> auto& { return s.optimizer.kind; }),
    field(
        "optimizer/learning_rate", "lr",
        [](auto& s) -> auto& { return s.optimizer.learning_rate; }),
    field(
        "optimizer/momentum", "momentum", [](auto& s) -> auto& { return s.optimizer.momentum; }),
    field(
        "optimizer/beta1", "", [](auto& s) -> auto& { return s.optimizer.beta1; }),
    field(
        "optimizer/beta2", "", [](auto& s) -> auto& { return s.optimizer.beta2; }),
    field(
        "optimizer/rho", "", [](auto& s) -> auto& { return s.optimizer.rho; }),
    field(
        "optimizer/epsilon", "", [](auto& s) -> auto& { return s.optimizer.epsilon; }),
    field(
        "optimizer/weight_decay", "weight-decay",
        [](auto& s) -> auto& { return s.optimizer.weight_decay; }),
    field(
        "optimizer/l1", "l1", [](auto& s) -> auto& { return s.optimizer.l1; }),
    field(
        "optimizer/l2", "l2", [](auto& s) -> auto& { return s.optimizer.l2; }),
    field(
        "schedule/kind", "schedule", [](auto& s) -> auto& { return s.schedule.kind; }),
    field(
        "schedule/step_epochs", "lr-step-epochs",
        [](auto& s) -> auto& { return s.schedule.step_epochs; }),
    field(
        "schedule/gamma", "lr-gamma", [](auto& s) -> auto& { return s.schedule.gamma; }),
    field(
        "schedule/min_lr", "min-lr", [](auto& s) -> auto& { return s.schedule.min_lr; }),
    field(
        "seed", "seed", [](auto& s) -> auto& { return s.seed; }),
    field(
        "batch_size", "batch-size", [](auto& s) -> auto& { return s.batch_size; }),
    field(
        "epochs_total", "epochs", [](auto& s) -> auto& { return s.epochs; }, Resume::may_change),
    field(
        "deterministic", "deterministic", [](auto& s) -> auto& { return s.deterministic; }),
    field(
        "micro_batches", "micro-batches", [](auto& s) -> auto& { return s.micro_batches; }),
    field(
        "shuffle", "", [](auto& s) -> auto& { return s.shuffle; }, Resume::keeps, Since::newer),
    field(
        "shuffle_mode", "shuffle", [](auto& s) -> auto& { return s.shuffle_mode; }, Resume::keeps,
        Since::newer),
    field(
        "shuffle_block_rows", "", [](auto& s) -> auto& { return s.shuffle_block_rows; },
        Resume::keeps, Since::newer));

template <class F>
void for_each_field(F&& f) {
  std::apply([&f](const auto&... row) { (f(row), ...); }, kFields);
}

// The name table of each enum a setting holds.
constexpr const auto& names_of(Loss) {
  return kLossNames;
}
constexpr const auto& names_of(OptimizerKind) {
  return kOptimizerNames;
}
constexpr const auto& names_of(ScheduleKind) {
  return kScheduleNames;
}
constexpr const auto& names_of(ShuffleMode) {
  return kShuffleModeNames;
}

template <class T>
std::string text_of(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return names_of(value).name(value);
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else {  // the shortest text that reads back as the same double
    char text[32];
    return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
  }
}

template <class T>
json json_of(const T& value) {
  if constexpr (std::is_enum_v<T>)
    return names_of(value).name(value);
  else
    return value;
}

template <class T>
void read_value(const json& parent, const char* key, T& value) {
  if constexpr (std::is_same_v<T, bool> || std::is_floating_point_v<T>)
    value = parent.at(key).template get<T>();
  else if constexpr (std::is_enum_v<T>)
    value = names_of(value).parse(parent.at(key).template get<std::string>());
  else
    value = detail::whole(parent, key);
}

/// The JSON object that holds setting `key` ("a/b": meta["a"]; throws when absent), and the
/// key's last part into `leaf`.
const json& parent_of(const json& meta, const std::string& key, std::string& leaf) {
  const std::size_t slash = key.find('/');
  leaf = slash == key.npos ? key : key.substr(slash + 1);
  return slash == key.npos ? meta : meta.at(key.substr(0, slash));
}

}  // namespace

std::vector<SettingDifference> differences(const RunSettings& recorded, const RunSettings& given,
                                           std::span<const std::string> unrecorded) {
  std::vector<SettingDifference> out;
  for_each_field([&](const auto& f) {
    if (f.resume == Resume::may_change) return;
    for (const std::string& key : unrecorded)
      if (key == f.key) return;
    const auto& r = f.get(recorded);
    const auto& g = f.get(given);
    if (r == g) return;
    using T = std::remove_cvref_t<decltype(r)>;
    out.push_back({f.key, f.flag, std::is_same_v<T, bool>, text_of(g), text_of(r)});
  });
  return out;
}

std::string describe(const RunSettings& settings) {
  std::string text;
  for_each_field([&](const auto& f) {
    text.append(f.key).append("=").append(text_of(f.get(settings))).append("\n");
  });
  return text;
}

void copy_setting(std::string_view key, const RunSettings& from, RunSettings& to) {
  bool found = false;
  for_each_field([&](const auto& f) {
    if (key != f.key) return;
    f.get(to) = f.get(from);
    found = true;
  });
  if (!found) throw Error("no run setting is called '" + std::string(key) + "'");
}

namespace detail {

std::uint64_t whole(const json& parent, const char* key) {
  const json& j = parent.at(key);
  if (!j.is_number_unsigned()) {
    std::string text = j.dump();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    throw Error(std::string("'") + key + "' must be a whole number >= 0, not " + text);
  }
  return j.get<std::uint64_t>();
}

void settings_to_json(const RunSettings& settings, json& meta) {
  for_each_field([&](const auto& f) {
    meta[json::json_pointer(std::string("/") + f.key)] = json_of(f.get(settings));
  });
}

void settings_from_json(const json& meta, RunSettings& settings,
                        std::vector<std::string>& unrecorded) {
  for_each_field([&](const auto& f) {
    const std::string key = f.key;
    const std::string object = key.substr(0, key.find('/'));  // the key itself when flat
    if (f.since == Since::newer && !meta.contains(object)) {
      unrecorded.push_back(key);
      return;
    }
    std::string leaf;
    const json& parent = parent_of(meta, key, leaf);
    if (f.since == Since::newer && !parent.contains(leaf)) {
      unrecorded.push_back(key);
      return;
    }
    read_value(parent, leaf.c_str(), f.get(settings));
  });
}

}  // namespace detail

}  // namespace dptrain
