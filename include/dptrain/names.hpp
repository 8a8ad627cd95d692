#pragma once
// Note [Name tables]. Every enum a user names in text (a CLI flag, a checkpoint, --log, a Python
// argument) has one NameTable, declared right below the enum: each value with its canonical
// name, plus aliases accepted on input. Parsing, naming and the "expected a, b or c" message
// all derive from that table, and a static_assert beside it checks that it names every value
// exactly once and holds as many values as the enum has (complete_through(last value)). To
// add a value: add the enumerator and its line in the table, and move complete_through's
// argument if the new value is the last one; nothing else names values.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "dptrain/error.hpp"

namespace dptrain {

template <class E>
struct NamedValue {
  E value;
  std::string_view name;  ///< a string literal (name() hands out its pointer)
};

/// The names of enum E: `N` canonical names (one per value, listed in the order messages show
/// them) and `A` aliases that parse() also accepts. `what` names the kind of value in errors
/// ("activation", "GEMM backend").
template <class E, std::size_t N, std::size_t A = 0>
struct NameTable {
  std::string_view what;
  std::array<NamedValue<E>, N> names;
  std::array<NamedValue<E>, A> aliases{};

  /// True when the values 0 .. last are each named exactly once and nothing else is named.
  constexpr bool complete_through(E last) const {
    const auto count = static_cast<std::size_t>(last) + 1;
    if (count != N) return false;
    for (std::size_t v = 0; v < count; ++v) {
      std::size_t seen = 0;
      for (const auto& entry : names) seen += static_cast<std::size_t>(entry.value) == v;
      if (seen != 1) return false;
    }
    return true;
  }

  /// The canonical name of `value`, or "?" for a value outside the enum.
  constexpr const char* name(E value) const {
    for (const auto& entry : names)
      if (entry.value == value) return entry.name.data();
    return "?";
  }

  /// "a, b or c": the canonical names in table order.
  std::string expected() const {
    std::string text;
    for (std::size_t i = 0; i < N; ++i) {
      if (i > 0) text += i + 1 == N ? " or " : ", ";
      text += names[i].name;
    }
    return text;
  }

  /// The value named `text` (a canonical name or an alias). Throws dptrain::Error
  /// "unknown <what> '<text>' (expected a, b or c)" otherwise.
  E parse(std::string_view text) const {
    for (const auto& entry : names)
      if (entry.name == text) return entry.value;
    for (const auto& entry : aliases)
      if (entry.name == text) return entry.value;
    throw Error("unknown " + std::string(what) + " '" + std::string(text) + "' (expected " +
                expected() + ")");
  }
};

}  // namespace dptrain
