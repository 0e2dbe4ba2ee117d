#include "notify_server/session_registry.h"

#include <algorithm>

namespace im::notify {

void SessionRegistry::Announce(const net::Session& s, bool online) {
  if (listener_ == nullptr) return;
  rpc::DevicePresence p;
  p.set_uid(s.uid());
  p.set_device_id(s.device_id());
  p.set_platform(s.platform());
  p.set_online(online);
  listener_->OnPresence(p);
}

net::SessionPtr SessionRegistry::Add(const net::SessionPtr& session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& list = by_uid_[session->uid()];
  net::SessionPtr replaced;
  for (auto& s : list) {
    if (s->device_id() == session->device_id()) {
      replaced = s;
      s = session;
      break;
    }
  }
  if (!replaced) {
    list.push_back(session);
    ++sessions_;
  }
  Announce(*session, true);
  return replaced;
}

void SessionRegistry::Remove(const net::SessionPtr& session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_uid_.find(session->uid());
  if (it == by_uid_.end()) return;
  auto& list = it->second;
  auto pos = std::find(list.begin(), list.end(), session);
  if (pos == list.end()) return;  // already replaced by a newer login of the device
  list.erase(pos);
  --sessions_;
  Announce(*session, false);
  if (list.empty()) by_uid_.erase(it);
}

void SessionRegistry::Lookup(std::int64_t uid, std::vector<net::SessionPtr>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_uid_.find(uid);
  if (it != by_uid_.end()) out->insert(out->end(), it->second.begin(), it->second.end());
}

void SessionRegistry::Snapshot(const std::function<void(const std::vector<rpc::DevicePresence>&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rpc::DevicePresence> all;
  all.reserve(sessions_);
  for (const auto& [uid, list] : by_uid_) {
    for (const auto& s : list) {
      rpc::DevicePresence p;
      p.set_uid(uid);
      p.set_device_id(s->device_id());
      p.set_platform(s->platform());
      p.set_online(true);
      all.push_back(std::move(p));
    }
  }
  fn(all);
}

std::size_t SessionRegistry::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_;
}

std::size_t SessionRegistry::users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_uid_.size();
}

}  // namespace im::notify
