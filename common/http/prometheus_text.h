#pragma once
// Reading one sample out of a Prometheus text exposition (what every daemon's
// /metrics serves): admin_qim's `qim stats` and the benchmarks use it.

#include <optional>
#include <string>

namespace im::http {

/// The value of the first sample named exactly `series` (name plus label
/// set as the exposition writes it, e.g. `im_notify_state{what="connections"}`)
/// in a Prometheus text exposition; nullopt when absent or not a number.
std::optional<double> FindSample(const std::string& exposition, const std::string& series);

}  // namespace im::http
