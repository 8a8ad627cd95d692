#pragma once
// Internal to the CSV reader (csv_reader.cpp): the fast path that parses a run of whole rows of
// numeric CSV straight into float features, on one worker per chunk (Note [Fast CSV path]).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dptrain::csv_detail {

/// What the rows look like, fixed by the header (or first row) the exact reader parsed.
struct RowLayout {
  std::size_t columns = 0;
  std::size_t label = 0;    ///< the label column; == columns when there is none
  bool text_label = false;  ///< the label is a class label (text), else a number (a target)
  char delimiter = ',';
};

/// True when the fast path can read rows with this delimiter: one that cannot be part of a
/// number, a blank, a quote or a line end.
bool fast_delimiter(char delimiter);

/// Floats appended without being initialised first (a std::vector would zero them): the
/// fast path writes each row's features in place.
class FloatRun {
 public:
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  /// Room for `n` more floats, uninitialised: the caller writes them all (or shrinks back).
  float* grow(std::size_t n) {
    if (size_ + n > capacity_) reallocate(size_ + n);
    float* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void push_back(float f) { *grow(1) = f; }
  /// Shrinks to `n` <= size() floats.
  void shrink(std::size_t n) { size_ = n; }
  void clear() { size_ = 0; }
  operator std::span<const float>() const { return {data_.get(), size_}; }

 private:
  void reallocate(std::size_t need);
  std::unique_ptr<float[]> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

/// The rows of one chunk, as far as the fast path could read them.
struct ChunkRows {
  FloatRun x;                            ///< rows x (columns - label columns) features
  std::vector<float> targets;            ///< a numeric label column's values
  std::string label_text;                ///< text labels back to back (text_label)
  std::vector<std::uint32_t> label_end;  ///< end of each row's label in label_text
  std::vector<std::uint32_t> row_line;   ///< each row's line, counted from the chunk's start
  std::size_t rows = 0;
  std::size_t lines = 0;  ///< physical lines read (comments and blank lines included)
  std::size_t stop = 0;   ///< bytes read: whole lines, up to the line refused or the end
  bool refused = false;   ///< the line at `stop` is one for the exact reader
  void clear();
};

/// Parses `text`, which starts at a row boundary and holds whole lines (the last may lack its
/// line end only at the end of the input), appending to `out` (cleared first). Stops at the
/// first line it does not accept (`refused`): anything other than unquoted or simply quoted
/// fields of finite numbers (and a text label) in exactly layout.columns fields, '#' comments
/// and blank lines. It never throws for the input's content.
void parse_chunk(std::string_view text, const RowLayout& layout, ChunkRows& out);

}  // namespace dptrain::csv_detail
