#pragma once
// A storage_server child process for integration tests: its own data dir and
// free port, restartable on the same data, plus small client helpers.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/rpc/grpc_util.h"
#include "proto/storage.grpc.pb.h"
#include "tests/support/test_services.h"

namespace im::storage::testing {

class StorageProcess {
 public:
  /// `flags`: extra command-line flags ("--key", "value", …).
  explicit StorageProcess(std::vector<std::string> flags = {}) : flags_(std::move(flags)) {
    port_ = im::testing::PickFreePort();
  }

  /// Starts (or restarts) the daemon on the same data dir and port and waits
  /// until it serves gRPC.
  ::testing::AssertionResult Start() {
    std::vector<std::string> argv = {STORAGE_SERVER, "--server.listen", "127.0.0.1:" + std::to_string(port_)};
    // Defaults a test can override with its own flags.
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--admin.listen", "127.0.0.1:0"},
        {"--storage.data_dir", dir_.path() + "/data"},
        {"--storage.block_cache_mb", "16"},
        {"--storage.write_buffer_mb", "8"}};
    for (const auto& [flag, value] : defaults) {
      if (std::find(flags_.begin(), flags_.end(), flag) == flags_.end()) argv.insert(argv.end(), {flag, value});
    }
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    auto child = im::testing::ChildProcess::Start(argv, log_path());
    if (!child.ok()) return ::testing::AssertionFailure() << child.status();
    process_ = std::move(*child);
    if (!im::testing::WaitForPort(port_, std::chrono::seconds(15))) {
      return ::testing::AssertionFailure() << "storage_server did not listen; log:\n" << Log();
    }
    // A channel of its own (local subchannel pool): a channel to the process
    // before a restart must not lend it its dead connection.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
    if (!channel_->WaitForConnected(rpc::DeadlineAfter(5000))) {
      return ::testing::AssertionFailure() << "no gRPC connection; log:\n" << Log();
    }
    stub_ = rpc::StorageService::NewStub(channel_);
    return ::testing::AssertionSuccess();
  }

  void Kill() { process_.Kill(); }
  /// SIGTERM; returns the exit code.
  int Terminate() {
    process_.Signal(SIGTERM);
    return process_.Wait(std::chrono::seconds(15));
  }

  rpc::StorageService::Stub* stub() { return stub_.get(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log_path() const { return dir_.path() + "/storage.log"; }
  std::string Log() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::vector<std::string> flags_;
  im::testing::TempDir dir_{"storage_it"};
  int port_ = 0;
  im::testing::ChildProcess process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::StorageService::Stub> stub_;
};

inline rpc::SeqId Seq(rpc::SeqKind kind, int64_t id) {
  rpc::SeqId s;
  s.set_kind(kind);
  s.set_id(id);
  return s;
}

/// Every retained record of a sequence, page by page (oldest first).
inline ::testing::AssertionResult ReadAll(rpc::StorageService::Stub* stub, const rpc::SeqId& seq,
                                          std::vector<rpc::HistoryMessage>* out, int page = 100) {
  int64_t after = 0;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    rpc::SyncMessagesRequest request;
    request.set_id(seq.id());
    request.set_after_offset(after);
    request.set_limit(page);
    rpc::SyncMessagesReply reply;
    grpc::Status s = seq.kind() == rpc::SEQ_GROUP ? stub->SyncGroupMessages(&context, request, &reply)
                                                  : stub->SyncPeerMessages(&context, request, &reply);
    if (!s.ok()) return ::testing::AssertionFailure() << "sync: " << s.error_message();
    for (const auto& m : reply.messages()) out->push_back(m);
    if (reply.messages_size() > 0 && reply.lastmsgid() != reply.messages(reply.messages_size() - 1).msgid()) {
      return ::testing::AssertionFailure() << "LastMsgID is not the last message's msgid";
    }
    if (!reply.has_more() || reply.messages_size() == 0) return ::testing::AssertionSuccess();
    after = reply.messages(reply.messages_size() - 1).offset();
  }
}

/// Offsets first, first+1, …; pre_msgid = previous msgid; msgids increasing.
inline ::testing::AssertionResult Linked(const std::vector<rpc::HistoryMessage>& records, int64_t first = 1) {
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].offset() != first + static_cast<int64_t>(i)) {
      return ::testing::AssertionFailure() << "offset " << records[i].offset() << " at position " << i
                                           << " (expected " << first + static_cast<int64_t>(i) << ")";
    }
    if (i > 0 && records[i].premsgid() != records[i - 1].msgid()) {
      return ::testing::AssertionFailure() << "pre_msgid of offset " << records[i].offset() << " is "
                                           << records[i].premsgid() << ", previous msgid "
                                           << records[i - 1].msgid();
    }
    if (i > 0 && records[i].msgid() <= records[i - 1].msgid()) {
      return ::testing::AssertionFailure() << "msgid not increasing at offset " << records[i].offset();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace im::storage::testing
