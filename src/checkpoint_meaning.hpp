#pragma once
// The checks behind decode_checkpoint that go beyond the format: Note [Checkpoint meaning].
#include <string>

#include "dptrain/checkpoint.hpp"

namespace dptrain::detail {

/// Throws dptrain::Error naming the metadata field whose value no run writes (fields only; the
/// buffers' sizes are checked against the model separately).
void check_checkpoint_meaning(const Checkpoint& c);

/// Throws dptrain::Error naming `where` when a buffer (parameters, optimizer state) holds a
/// non-zero value in the padding of the spec's layout, the parameters are laid out for a
/// narrower hidden layer, or a state of squared gradients holds a negative value (Note
/// [Checkpoint meaning]). Requires buffers of the layout's length.
void check_layout(const Checkpoint& c, const std::string& where);

}  // namespace dptrain::detail
