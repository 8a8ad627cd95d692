#pragma once
// The kernel wisdom file (Note [Kernel wisdom] in kernel_choice.hpp), private to the library:
//
//   dptrain kernel wisdom 1
//   key <wisdom_key()>
//   shape <kernel> <NN|NT|TN|TT>[+b] <m> <n> <k>      one per timed product shape
//   steps <owner|buffers> <workload>                  one per timed model and plan
//   end <number of shape and steps lines>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dptrain/kernel_choice.hpp"

namespace dptrain::detail {

struct Wisdom {
  std::vector<KernelChoice::Entry> shapes;
  std::map<std::string, WeightGradients> steps;  ///< workload text -> strategy

  /// The entry of `shape`, or null.
  const KernelChoice::Entry* find(const GemmShape& shape) const;
  /// Adds or replaces the entry of `shape`.
  void set(const GemmShape& shape, GemmBackend backend);
};

/// The wisdom in `path` for key `key`; empty when the file does not exist. A file that does not
/// parse, or holds another key, gives empty wisdom and a warning through `on_note`.
Wisdom load_wisdom(const std::string& path, const std::string& key,
                   const std::function<void(const std::string&)>& on_note);
/// Writes `w` to `path` atomically (creating its folder); a failure is a warning, not an error:
/// the run goes on with what it measured.
void save_wisdom(const std::string& path, const std::string& key, const Wisdom& w,
                 const std::function<void(const std::string&)>& on_note);
/// The text a wisdom file holds.
std::string wisdom_text(const std::string& key, const Wisdom& w);

/// "NN+b" and back (the latter returns false for other text).
std::string shape_kind(const GemmShape& shape);
bool parse_shape_kind(const std::string& text, GemmShape& shape);

}  // namespace dptrain::detail
