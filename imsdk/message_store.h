#pragma once
// The SDK's local store (SQLite): buffered node config, device id, per-account
// offsets, next msgid, newest peer msgid, unanswered sends and delivered
// messages. One file <state_dir>/imsdk.db; in memory when state_dir is "".
// Thread safe: every method takes an internal mutex.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "imsdk/imsdk.h"

struct sqlite3;

namespace im::sdk {

/// A send the server has not answered yet (docs/protocol.md §9).
struct PendingSend {
  std::int32_t msgid = 0;
  std::int64_t app_msg_id = 0;
  bool is_group = false;
  std::int64_t to = 0;
  std::int32_t msg_type = 0;
  std::int32_t msg_flag = 0;
  std::int32_t timestamp = 0;
  std::string content;
  std::int64_t created_ms = 0;  // wall clock, for the give-up deadline
};

class MessageStore {
 public:
  MessageStore() = default;
  ~MessageStore();
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  /// Opens (creating) the store in `dir` ("" = in memory). False on failure,
  /// with the reason in *error; the store then works in memory.
  bool Open(const std::string& dir, std::string* error);

  std::string GetKv(const std::string& key) const;
  void SetKv(const std::string& key, const std::string& value);

  /// Offsets per sequence (0 = peer) of `uid`.
  std::map<std::int64_t, std::int64_t> Offsets(std::int64_t uid) const;
  bool HasState(std::int64_t uid) const;
  void SetOffset(std::int64_t uid, std::int64_t group_id, std::int64_t offset);
  void RemoveSequence(std::int64_t uid, std::int64_t group_id);

  /// Takes the next client msgid of `uid` (1, 2, …; wraps within int32 > 0).
  std::int32_t NextMsgid(std::int64_t uid);
  std::int64_t PeerSyncKey(std::int64_t uid) const;
  void SetPeerSyncKey(std::int64_t uid, std::int64_t sync_key);

  void AddPending(std::int64_t uid, const PendingSend& send);
  void RemovePending(std::int64_t uid, std::int32_t msgid);
  std::vector<PendingSend> Pending(std::int64_t uid) const;

  /// Stores a delivered message and advances the sequence's offset, atomically.
  void Deliver(std::int64_t uid, const Message& message, bool keep_history);
  std::vector<Message> History(std::int64_t uid, std::int64_t group_id, int limit) const;

 private:
  bool Exec(const char* sql);
  std::int64_t GetAccountField(std::int64_t uid, const char* column) const;

  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace im::sdk
