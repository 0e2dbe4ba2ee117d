#pragma once
// The logged-in sessions of a notify_server, by uid. Several devices per uid;
// one session per (uid, device_id): a new login replaces the old one.
// Presence changes are reported to a listener under the registry's lock, so
// a snapshot taken with Snapshot() and the changes after it never disagree.

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/net/session.h"
#include "proto/route.pb.h"

namespace im::notify {

class PresenceListener {
 public:
  virtual ~PresenceListener() = default;
  /// Called with the registry's lock held: must not call back into it.
  virtual void OnPresence(const rpc::DevicePresence& presence) = 0;
};

/// Thread safe.
class SessionRegistry {
 public:
  /// Set before sessions arrive; `listener` must outlive the registry's use.
  void SetListener(PresenceListener* listener) { listener_ = listener; }

  /// Adds a logged-in session; returns the session of the same (uid, device)
  /// it replaced (the caller closes it), or nullptr.
  net::SessionPtr Add(const net::SessionPtr& session);
  /// Removes exactly this session (not a newer one of the same device).
  void Remove(const net::SessionPtr& session);
  /// Appends the sessions of uid to `out`.
  void Lookup(std::int64_t uid, std::vector<net::SessionPtr>* out) const;
  /// Runs fn with every online device, under the lock (see the file comment).
  void Snapshot(const std::function<void(const std::vector<rpc::DevicePresence>&)>& fn) const;
  std::size_t sessions() const;
  std::size_t users() const;

 private:
  void Announce(const net::Session& s, bool online);

  mutable std::mutex mu_;
  std::unordered_map<std::int64_t, std::vector<net::SessionPtr>> by_uid_;
  std::size_t sessions_ = 0;
  PresenceListener* listener_ = nullptr;
};

}  // namespace im::notify
