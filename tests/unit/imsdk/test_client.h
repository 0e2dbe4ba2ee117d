#pragma once
// A test harness around one ImSdk: records callbacks, waits with deadlines.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "imsdk/imsdk.h"

namespace im::sdk::testing {

/// Polls `pred` until true or `timeout`; true if it became true.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class TestClient {
 public:
  /// Fast timers for tests; callers adjust `options` before Make().
  static Options FastOptions() {
    Options o;
    o.heartbeat_interval_ms = 30000;
    o.reconnect_initial_ms = 50;
    o.reconnect_max_ms = 400;
    o.connect_timeout_ms = 1000;
    o.http_timeout_ms = 1000;
    o.send_retry_ms = 300;
    o.send_give_up_ms = 10000;
    return o;
  }

  explicit TestClient(Options options) {
    Callbacks cb;
    cb.on_message = [this](const Message& m) {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(m);
    };
    cb.on_send_result = [this](const SendResult& r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(r);
    };
    cb.on_state = [this](State s, int code, const std::string&) {
      std::lock_guard<std::mutex> lock(mu_);
      states_.push_back(s);
      last_code_ = code;
    };
    cb.on_log = [this](LogLevel, const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      logs_.push_back(line);
    };
    sdk = std::make_unique<ImSdk>(std::move(options), std::move(cb));
  }

  ~TestClient() { sdk.reset(); }  // before the members its callbacks use

  std::vector<Message> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  std::vector<Message> messages(std::int64_t group) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Message> out;
    for (auto& m : messages_)
      if (m.group_id == group) out.push_back(m);
    return out;
  }
  std::vector<SendResult> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  std::vector<State> states() {
    std::lock_guard<std::mutex> lock(mu_);
    return states_;
  }
  void ClearMessages() {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.clear();
  }
  bool WaitOnline(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    return WaitFor([&] { return sdk->state() == State::kOnline; }, t);
  }
  bool WaitMessages(std::int64_t group, std::size_t n,
                    std::chrono::milliseconds t = std::chrono::seconds(5)) {
    return WaitFor([&] { return messages(group).size() >= n; }, t);
  }
  std::string logs() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (auto& l : logs_) s += l + "\n";
    return s;
  }

  std::unique_ptr<ImSdk> sdk;

 private:
  std::mutex mu_;
  std::vector<Message> messages_;
  std::vector<SendResult> results_;
  std::vector<State> states_;
  std::vector<std::string> logs_;
  int last_code_ = 0;
};

}  // namespace im::sdk::testing
