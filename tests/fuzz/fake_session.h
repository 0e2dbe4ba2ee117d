#pragma once
// A net::Session without a socket, for driving SessionHandlers in fuzzers and
// unit tests: frames sent are collected; close state is recorded.
// Thread safe (handlers send from gRPC threads).

#include <mutex>
#include <string>
#include <vector>

#include "common/net/session.h"

namespace im::fuzz {

class FakeSession final : public net::Session {
 public:
  FakeSession(std::int64_t uid, std::int64_t device_id) {
    static std::uint64_t next_id = 1;
    id_ = next_id++;
    uid_ = uid;
    device_id_ = device_id;
  }

  void Send(std::string frame) override { Append(std::move(frame)); }
  void SendInLoop(std::string frame) override { Append(std::move(frame)); }
  void SendAndClose(std::string frame) override {
    Append(std::move(frame));
    Close();
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  void FinishLogin(std::int32_t, std::string) override {}

  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  /// Everything sent so far (each entry one Send(), possibly several frames).
  std::vector<std::string> TakeOutput() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(out_);
  }

 private:
  void Append(std::string frame) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && !frame.empty()) out_.push_back(std::move(frame));
  }

  std::mutex mu_;
  bool closed_ = false;
  std::vector<std::string> out_;
};

}  // namespace im::fuzz
