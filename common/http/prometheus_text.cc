#include "common/http/prometheus_text.h"

#include <cstdlib>
#include <sstream>

namespace im::http {

std::optional<double> FindSample(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() <= series.size() || line.compare(0, series.size(), series) != 0 || line[series.size()] != ' ') {
      continue;
    }
    const char* start = line.c_str() + series.size() + 1;
    char* end = nullptr;
    const double value = std::strtod(start, &end);
    if (end == start || (*end != '\0' && *end != ' ')) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace im::http
