#pragma once
// The one exception type dptrain throws for bad input: unreadable or corrupt files, shapes that
// do not fit, invalid settings. The message says what is wrong and where, in the library's own
// terms; its topic says which setting it concerns, so that a front end (the CLI) can add its
// own hint (the flag to check). Programming errors and broken preconditions are
// std::logic_error / std::invalid_argument. Only the CLI turns exceptions into exit codes.
#include <stdexcept>
#include <string>

namespace dptrain {

/// The setting a bad-input error concerns; none when it is about the input alone.
enum class ErrorTopic {
  none,
  layer_widths,       ///< the model's input or output width does not fit the data
  output_activation,  ///< the output activation does not fit the loss
  loss,               ///< the loss does not fit the data (e.g. ce on real-valued targets)
  label_column,       ///< which column holds the label
  label_kind,         ///< labels read as class indices versus real-valued targets
  table_source,       ///< SQLite: table versus query
  schedule,           ///< learning-rate schedule settings
  batch_size,         ///< rows per step (and the memory they imply)
  micro_batches,      ///< micro-batches per step with deterministic
  threads,            ///< worker threads
  thread_start,       ///< the system refused a worker thread (process or memory limits)
  divergence,         ///< training diverged: parameters or optimizer state exploded
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorTopic topic = ErrorTopic::none)
      : std::runtime_error(message), topic_(topic) {}
  ErrorTopic topic() const { return topic_; }

 private:
  ErrorTopic topic_;
};

}  // namespace dptrain
