#include "dptrain/limits.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace dptrain {

std::size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : 0;
}

std::size_t first_unusable(std::span<const float> values, double limit) {
  const float bound = limit > 0 ? float(limit) : std::numeric_limits<float>::max();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!(std::fabs(values[i]) <= bound)) return i;  // NaN fails every comparison, infinity this
  return values.size();
}

void check_fits_memory(double bytes, const std::string& what, ErrorTopic topic) {
  const std::size_t memory = physical_memory_bytes();
  if (memory == 0 || bytes <= double(memory)) return;
  char text[128];
  std::snprintf(text, sizeof text, " needs about %.3g GB, more than this machine's %.3g GB",
                bytes / 1e9, double(memory) / 1e9);
  throw Error(what + text, topic);
}

}  // namespace dptrain
