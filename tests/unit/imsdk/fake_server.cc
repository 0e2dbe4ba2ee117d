#include "tests/unit/imsdk/fake_server.h"

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <future>

#include "common/net/frame_codec.h"
#include "proto/im_client.pb.h"

namespace im::sdk::testing {
namespace asio = boost::asio;
using asio::ip::tcp;
namespace pb = im::client;

// ------------------------------------------------------------------ cluster

void FakeCluster::AddUser(std::int64_t uid, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[token] = uid;
  peer_[uid];
}

void FakeCluster::AddGroup(std::int64_t gid, std::vector<std::int64_t> members) {
  std::lock_guard<std::mutex> lock(mu_);
  members_[gid] = std::set<std::int64_t>(members.begin(), members.end());
  groups_[gid];
}

void FakeCluster::Register(FakeServer* s) {
  std::lock_guard<std::mutex> lock(mu_);
  servers_.insert(s);
}

void FakeCluster::Unregister(FakeServer* s) {
  std::lock_guard<std::mutex> lock(mu_);
  servers_.erase(s);
}

std::int64_t FakeCluster::UidForToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token);
  return it == tokens_.end() ? 0 : it->second;
}

std::int64_t FakeCluster::AppendPeer(std::int64_t owner, StoredMsg m) {
  auto& seq = peer_[owner];
  m.offset = static_cast<std::int64_t>(seq.size()) + 1;
  seq.push_back(m);
  return m.offset;
}

std::pair<int, std::int64_t> FakeCluster::Send(std::int64_t from, std::int64_t device,
                                               std::int32_t msgid, bool group, std::int64_t to,
                                               std::int32_t ts, std::int32_t type,
                                               std::int32_t flag, const std::string& content) {
  StoredMsg m;
  std::int64_t result_offset = 0;
  std::int64_t receiver_offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++sends;
    auto key = std::make_tuple(from, device, msgid);
    auto d = dedupe_.find(key);
    if (msgid != 0 && d != dedupe_.end()) return d->second;
    if (content.empty()) return {400, 0};
    m.server_msgid = ++next_msgid_;
    m.from = from;
    m.timestamp = ts;
    m.client_msgid = msgid;
    m.msg_type = type;
    m.msg_flag = flag;
    m.content = content;
    if (group) {
      auto mem = members_.find(to);
      if (mem == members_.end()) return {404, 0};
      if (!mem->second.count(from)) return {403, 0};
      m.group = to;
      auto& seq = groups_[to];
      m.offset = static_cast<std::int64_t>(seq.size()) + 1;
      seq.push_back(m);
      result_offset = m.offset;
    } else {
      if (to <= 0 || to == from || !peer_.count(to)) return {404, 0};
      m.to = to;
      receiver_offset = AppendPeer(to, m);
      result_offset = AppendPeer(from, m);
    }
    dedupe_[key] = {200, result_offset};
  }
  if (group) {
    m.offset = result_offset;
    PushGroup(to, from, device, m);
  } else {
    StoredMsg r = m;
    r.offset = receiver_offset;
    PushPeer(to, 0, r);
    StoredMsg s = m;
    s.offset = result_offset;
    PushPeer(from, device, s);
  }
  return {200, result_offset};
}

std::int64_t FakeCluster::InjectPeer(std::int64_t from, std::int64_t to,
                                     const std::string& content) {
  StoredMsg m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m.server_msgid = ++next_msgid_;
    m.from = from;
    m.to = to;
    m.timestamp = static_cast<std::int32_t>(std::time(nullptr));
    m.content = content;
    m.offset = AppendPeer(to, m);
  }
  PushPeer(to, 0, m);
  return m.offset;
}

std::int64_t FakeCluster::InjectGroup(std::int64_t from, std::int64_t gid,
                                      const std::string& content) {
  StoredMsg m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m.server_msgid = ++next_msgid_;
    m.from = from;
    m.group = gid;
    m.timestamp = static_cast<std::int32_t>(std::time(nullptr));
    m.content = content;
    auto& seq = groups_[gid];
    m.offset = static_cast<std::int64_t>(seq.size()) + 1;
    seq.push_back(m);
  }
  PushGroup(gid, 0, 0, m);
  return m.offset;
}

void FakeCluster::PushPeer(std::int64_t uid, std::int64_t except_device, const StoredMsg& m) {
  if (drop_all_pushes) return;
  if (drop_pushes.load() > 0 && drop_pushes.fetch_sub(1) > 0) return;
  std::string body;
  std::int16_t cmd;
  if (push_data) {
    pb::ImSyncNotifyWithData n;
    n.set_offset(m.offset);
    n.set_nextsynckey(m.server_msgid);
    n.set_fromuid(m.from);
    n.set_touid(m.to);
    n.set_timestamp(m.timestamp);
    n.set_synckey(static_cast<std::int32_t>(m.server_msgid));
    n.set_len(static_cast<std::int32_t>(m.content.size()));
    n.set_msgtype(m.msg_type);
    n.set_msgflag(m.msg_flag);
    n.set_content(m.content);
    body = n.SerializeAsString();
    cmd = pb::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA;
  } else {
    pb::UserMsgSyncInfo n;
    n.set_synckey(m.server_msgid);
    n.set_offset(m.offset);
    body = n.SerializeAsString();
    cmd = pb::IM_CMD_NOTIFY_SYNC;
  }
  std::set<FakeServer*> servers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    servers = servers_;
  }
  for (FakeServer* s : servers) {
    if (s->notify()) s->PushTo(uid, except_device, cmd, body);
  }
}

void FakeCluster::PushGroup(std::int64_t gid, std::int64_t except_uid,
                            std::int64_t except_device, const StoredMsg& m) {
  std::set<std::int64_t> members;
  std::set<FakeServer*> servers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    members = members_[gid];
    servers = servers_;
  }
  for (std::int64_t uid : members) {
    if (drop_all_pushes) return;
    if (drop_pushes.load() > 0 && drop_pushes.fetch_sub(1) > 0) continue;
    std::string body;
    std::int16_t cmd;
    if (push_data) {
      pb::ImGroupSyncNotifyWithData n;
      n.set_offset(m.offset);
      n.set_nextsynckey(m.server_msgid);
      n.set_fromuid(m.from);
      n.set_togroupid(gid);
      n.set_timestamp(m.timestamp);
      n.set_synckey(m.server_msgid);
      n.set_len(static_cast<std::int32_t>(m.content.size()));
      n.set_content(m.content);
      body = n.SerializeAsString();
      cmd = pb::IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA;
    } else {
      pb::UserMsgSyncInfo n;
      n.set_groupid(gid);
      n.set_synckey(m.server_msgid);
      n.set_offset(m.offset);
      body = n.SerializeAsString();
      cmd = pb::IM_CMD_GROUP_NOTIFY_SYNC;
    }
    for (FakeServer* s : servers) {
      if (s->notify()) s->PushTo(uid, uid == except_uid ? except_device : 0, cmd, body);
    }
  }
}

std::vector<StoredMsg> FakeCluster::Range(std::int64_t uid, std::int64_t gid, std::int64_t after,
                                          int limit, int* code, std::int64_t* newest) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<StoredMsg>* seq = nullptr;
  if (gid == 0) {
    seq = &peer_[uid];
  } else {
    auto mem = members_.find(gid);
    if (mem == members_.end()) {
      *code = 404;
      return {};
    }
    if (!mem->second.count(uid)) {
      *code = 403;
      return {};
    }
    seq = &groups_[gid];
  }
  *code = 200;
  *newest = static_cast<std::int64_t>(seq->size());
  if (limit <= 0) limit = 100;
  std::vector<StoredMsg> out;
  for (std::int64_t o = after + 1; o <= *newest && static_cast<int>(out.size()) < limit; ++o) {
    out.push_back((*seq)[o - 1]);
  }
  return out;
}

std::pair<std::int64_t, std::int64_t> FakeCluster::PeerNewest(std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& seq = peer_[uid];
  if (seq.empty()) return {0, 0};
  return {seq.back().server_msgid, seq.back().offset};
}

std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> FakeCluster::Latest(
    std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> out;
  auto& peer = peer_[uid];
  out.emplace_back(0, peer.empty() ? 0 : peer.back().server_msgid,
                   static_cast<std::int64_t>(peer.size()));
  for (auto& [gid, members] : members_) {
    if (!members.count(uid)) continue;
    auto& seq = groups_[gid];
    out.emplace_back(gid, seq.empty() ? 0 : seq.back().server_msgid,
                     static_cast<std::int64_t>(seq.size()));
  }
  return out;
}

std::map<std::int64_t, std::int64_t> FakeCluster::Acks(std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::int64_t, std::int64_t> out;
  for (auto& [k, v] : acks_) {
    if (k.first == uid) out[k.second] = v;
  }
  return out;
}

void FakeCluster::Ack(std::int64_t uid, std::int64_t gid, std::int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& v = acks_[{uid, gid}];
  if (offset > v) v = offset;
}

std::int64_t FakeCluster::Acked(std::int64_t uid, std::int64_t gid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = acks_.find({uid, gid});
  return it == acks_.end() ? 0 : it->second;
}

std::vector<StoredMsg> FakeCluster::Peer(std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  return peer_[uid];
}

std::vector<StoredMsg> FakeCluster::Group(std::int64_t gid) {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_[gid];
}

// ------------------------------------------------------------------ server

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, FakeCluster* cluster, bool notify)
      : socket_(std::move(socket)), cluster_(cluster), notify_(notify) {}

  void Start() { Read(); }

  void Write(std::int16_t cmd, std::int32_t seq, const std::string& body) {
    std::string frame;
    net::FrameHeader h;
    h.imuid = uid_;
    h.cmdid = cmd;
    h.seq = seq;
    net::AppendFrame(h, body, &frame);
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1) Flush();
  }

  void Close() {
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  bool closed() const { return closed_; }
  void Kick(int code, const std::string& desp) { Error(code, desp, 0); }
  std::int64_t uid() const { return logged_in_ ? uid_ : 0; }
  std::int64_t device() const { return device_; }

 private:
  void Flush() {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(queue_.front()),
                      [self](boost::system::error_code ec, std::size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->queue_.pop_front();
                        if (self->close_after_write_ && self->queue_.empty()) self->Close();
                        if (!self->queue_.empty() && !self->closed_) self->Flush();
                      });
  }

  void Read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec,
                                                       std::size_t n) {
      if (ec || self->closed_) {
        self->closed_ = true;
        return;
      }
      self->decoder_.Append(std::string_view(self->buf_, n));
      for (;;) {
        auto r = self->decoder_.Next();
        if (r.status == net::ParseStatus::kNeedMore) break;
        if (r.status != net::ParseStatus::kFrame) {
          self->Close();
          return;
        }
        self->Handle(r.frame.header, std::string(r.frame.body));
        if (self->closed_ || self->close_after_write_) return;
      }
      self->Read();
    });
  }

  void Error(int code, const std::string& desp, std::int32_t seq) {
    pb::ImError e;
    e.set_code(code);
    e.set_desp(desp);
    Write(pb::IM_CMD_ERROR, seq, e.SerializeAsString());
    close_after_write_ = true;
  }

  template <typename M>
  bool Parse(M* m, const std::string& body) {
    return m->ParseFromString(body);
  }

  void Handle(const net::FrameHeader& h, const std::string& body) {
    if (!logged_in_) {
      if (h.cmdid != pb::IM_CMD_LOGIN) return Error(401, "not logged in", h.seq);
      pb::ImLogin login;
      if (!Parse(&login, body)) return Error(400, "undecodable body", h.seq);
      if (cluster_->ignore_logins.load() > 0 && cluster_->ignore_logins.fetch_sub(1) > 0) return;
      std::int64_t uid = cluster_->UidForToken(login.token());
      pb::ImLoginRes res;
      uid_ = h.imuid;
      if (uid == 0 || uid != h.imuid) {
        res.set_code(401);
        res.set_desp("bad token");
        Write(pb::IM_CMD_LOGIN_RES, h.seq, res.SerializeAsString());
        close_after_write_ = true;
        return;
      }
      logged_in_ = true;
      device_ = login.device_id();
      ++cluster_->logins;
      res.set_code(200);
      res.set_uid(uid);
      Write(pb::IM_CMD_LOGIN_RES, h.seq, res.SerializeAsString());
      return;
    }
    if (h.imuid != uid_) return Error(400, "uid mismatch", h.seq);
    switch (h.cmdid) {
      case pb::IM_CMD_HEART_PING: {
        pb::UserMsgSyncInfo ping;
        if (!Parse(&ping, body)) return Error(400, "undecodable body", h.seq);
        if (cluster_->drop_pongs) return;
        auto [msgid, offset] = cluster_->PeerNewest(uid_);
        pb::UserMsgSyncInfo pong;
        pong.set_synckey(msgid);
        pong.set_offset(offset);
        Write(pb::IM_CMD_HEART_PONG, h.seq, pong.SerializeAsString());
        return;
      }
      case pb::IM_CMD_CLIENT_SEND_IM:
      case pb::IM_CMD_GROUP_SEND_IM: {
        if (notify_) return Error(400, "unknown command", h.seq);
        bool group = h.cmdid == pb::IM_CMD_GROUP_SEND_IM;
        std::int64_t to;
        std::int32_t msgid, ts, type, flag, len;
        std::string content;
        std::int64_t from;
        if (group) {
          pb::ImGroupSendMsg m;
          if (!Parse(&m, body)) return Error(400, "undecodable body", h.seq);
          to = m.togroupid(); msgid = m.msgid(); ts = m.timestamp(); type = m.msgtype();
          flag = m.msgflag(); len = m.len(); content = m.content(); from = m.fromuid();
        } else {
          pb::ImClientSendMsg m;
          if (!Parse(&m, body)) return Error(400, "undecodable body", h.seq);
          to = m.touid(); msgid = m.msgid(); ts = m.timestamp(); type = m.msgtype();
          flag = m.msgflag(); len = m.len(); content = m.content(); from = m.fromuid();
        }
        if (cluster_->reject_sends.load() > 0 && cluster_->reject_sends.fetch_sub(1) > 0) {
          return Error(400, "undecodable body for command " + std::to_string(h.cmdid), h.seq);
        }
        int code = 200;
        std::int64_t offset = 0;
        if (from != uid_ || len != static_cast<std::int32_t>(content.size())) {
          code = 400;
        } else if (cluster_->fail_sends.load() > 0 && cluster_->fail_sends.fetch_sub(1) > 0) {
          code = 503;
        } else {
          std::tie(code, offset) =
              cluster_->Send(uid_, device_, msgid, group, to, ts, type, flag, content);
        }
        if (cluster_->drop_send_answers.load() > 0 && cluster_->drop_send_answers.fetch_sub(1) > 0) {
          return;  // stored, answer lost
        }
        if (group) {
          pb::ImGroupSendMsgRes res;
          res.set_togroupid(to); res.set_len(len); res.set_msgid(msgid); res.set_code(code);
          res.set_offset(offset);
          Write(pb::IM_CMD_GROUP_SEND_IM_RES, h.seq, res.SerializeAsString());
        } else {
          pb::ImClientSendMsgRes res;
          res.set_touid(to); res.set_len(len); res.set_msgid(msgid); res.set_code(code);
          res.set_offset(offset);
          Write(pb::IM_CMD_CLIENT_SEND_IM_RES, h.seq, res.SerializeAsString());
        }
        return;
      }
      case pb::IM_CMD_SYNC_PULL: {
        if (notify_) return Error(400, "unknown command 317", h.seq);
        pb::ImSyncPull req;
        if (!Parse(&req, body)) return Error(400, "undecodable body", h.seq);
        ++cluster_->pulls;
        if (cluster_->drop_pulls_over.load() > 0 && req.limit() > cluster_->drop_pulls_over.load()) {
          Close();  // like a server dropping a client whose answer overflows its output queue
          return;
        }
        int code = 0;
        std::int64_t newest = 0;
        std::vector<StoredMsg> msgs;
        if (cluster_->fail_pulls.load() > 0 && cluster_->fail_pulls.fetch_sub(1) > 0) {
          code = 503;
        } else {
          msgs = cluster_->Range(uid_, req.groupid(), req.offset(), req.limit(), &code, &newest);
        }
        std::int64_t last = req.offset();
        for (const auto& m : msgs) {
          if (req.groupid() == 0) {
            pb::ImClientSendMsgSync d;
            d.set_offset(m.offset); d.set_nextoffset(m.offset + 1); d.set_preoffset(m.offset - 1);
            d.set_fromuid(m.from); d.set_touid(m.to); d.set_timestamp(m.timestamp);
            d.set_msgid(m.client_msgid); d.set_len(static_cast<std::int32_t>(m.content.size()));
            d.set_msgtype(m.msg_type); d.set_msgflag(m.msg_flag); d.set_content(m.content);
            Write(pb::IM_CMD_CLIENT_SEND_IM, h.seq, d.SerializeAsString());
          } else {
            pb::ImGroupSendMsgSync d;
            d.set_offset(m.offset); d.set_nextoffset(m.offset + 1); d.set_preoffset(m.offset - 1);
            d.set_fromuid(m.from); d.set_togroupid(m.group); d.set_touid(uid_);
            d.set_timestamp(m.timestamp); d.set_msgid(m.client_msgid);
            d.set_len(static_cast<std::int32_t>(m.content.size()));
            d.set_msgtype(m.msg_type); d.set_msgflag(m.msg_flag); d.set_content(m.content);
            Write(pb::IM_CMD_GROUP_SEND_IM, h.seq, d.SerializeAsString());
          }
          last = m.offset;
        }
        pb::ImSyncPullRes res;
        res.set_code(code);
        res.set_groupid(req.groupid());
        res.set_lastoffset(last);
        res.set_serveroffset(newest);
        res.set_hasmore(code == 200 && last < newest);
        Write(pb::IM_CMD_SYNC_PULL_RES, h.seq, res.SerializeAsString());
        return;
      }
      case pb::IM_CMD_ACK_OFFSET: {
        if (!notify_) return Error(400, "unknown command 319", h.seq);
        pb::ImAckOffset ack;
        if (!Parse(&ack, body) || ack.groupid() < 0 || ack.offset() < 0)
          return Error(400, "bad ack", h.seq);
        cluster_->Ack(uid_, ack.groupid(), ack.offset());
        return;
      }
      case pb::IM_CMD_GET_SYNC_OFFSETS: {
        if (!notify_) return Error(400, "unknown command 340", h.seq);
        pb::ImSyncOffsets res;
        for (auto& [gid, msgid, off] : cluster_->Latest(uid_)) {
          auto* l = res.add_latest();
          l->set_groupid(gid);
          l->set_synckey(msgid);
          l->set_offset(off);
        }
        for (auto& [gid, off] : cluster_->Acks(uid_)) {
          auto* a = res.add_acked();
          a->set_groupid(gid);
          a->set_offset(off);
        }
        Write(pb::IM_CMD_GET_SYNC_OFFSETS_RES, h.seq, res.SerializeAsString());
        return;
      }
      default:
        return Error(400, "unknown command " + std::to_string(h.cmdid), h.seq);
    }
  }

  tcp::socket socket_;
  FakeCluster* cluster_;
  bool notify_;
  net::FrameDecoder decoder_;
  char buf_[8192];
  std::deque<std::string> queue_;
  bool logged_in_ = false;
  bool closed_ = false;
  bool close_after_write_ = false;
  std::int64_t uid_ = 0;
  std::int64_t device_ = 0;
};

}  // namespace

class FakeServer::Impl {
 public:
  Impl(FakeCluster* cluster, bool notify)
      : cluster_(cluster), notify_(notify), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto s = std::make_shared<Session>(std::move(socket), cluster_, notify_);
      sessions_.push_back(s);
      s->Start();
      Accept();
    });
  }

  template <typename F>
  auto Run(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io_, [&task] { task(); });
    return fut.get();
  }

  FakeCluster* cluster_;
  bool notify_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;
  std::thread thread_;
};

FakeServer::FakeServer(FakeCluster* cluster, bool notify)
    : cluster_(cluster), notify_(notify), impl_(std::make_shared<Impl>(cluster, notify)) {
  port_ = impl_->acceptor_.local_endpoint().port();
  impl_->Accept();
  impl_->thread_ = std::thread([impl = impl_.get()] {
    auto guard = asio::make_work_guard(impl->io_);
    impl->io_.run();
  });
  cluster_->Register(this);
}

FakeServer::~FakeServer() {
  cluster_->Unregister(this);
  Stop();
  impl_->io_.stop();
  impl_->thread_.join();
}

void FakeServer::CloseAll() {
  impl_->Run([impl = impl_.get()] {
    for (auto& s : impl->sessions_) s->Close();
    impl->sessions_.clear();
    return 0;
  });
}

void FakeServer::Stop() {
  impl_->Run([impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor_.close(ec);
    for (auto& s : impl->sessions_) s->Close();
    impl->sessions_.clear();
    return 0;
  });
}

int FakeServer::sessions() {
  return impl_->Run([impl = impl_.get()] {
    int n = 0;
    for (auto& s : impl->sessions_) n += (!s->closed() && s->uid() != 0) ? 1 : 0;
    return n;
  });
}

void FakeServer::Kick(std::int64_t uid, int code, const std::string& desp) {
  impl_->Run([impl = impl_.get(), uid, code, desp] {
    for (auto& s : impl->sessions_) {
      if (!s->closed() && s->uid() == uid) s->Kick(code, desp);
    }
    return 0;
  });
}

void FakeServer::PushTo(std::int64_t uid, std::int64_t except_device, std::int16_t cmd,
                        const std::string& body) {
  asio::post(impl_->io_, [impl = impl_.get(), uid, except_device, cmd, body] {
    for (auto& s : impl->sessions_) {
      if (s->closed() || s->uid() != uid) continue;
      if (except_device != 0 && s->device() == except_device) continue;
      s->Write(cmd, 0, body);
    }
  });
}

// ------------------------------------------------------------------ admin

class FakeAdmin::Impl {
 public:
  Impl() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto sock = std::make_shared<tcp::socket>(std::move(socket));
      auto buf = std::make_shared<std::string>();
      ReadRequest(sock, buf);
      Accept();
    });
  }

  void ReadRequest(std::shared_ptr<tcp::socket> sock, std::shared_ptr<std::string> buf) {
    auto chunk = std::make_shared<std::array<char, 4096>>();
    sock->async_read_some(asio::buffer(*chunk), [this, sock, buf, chunk](
                                                    boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      buf->append(chunk->data(), n);
      auto end = buf->find("\r\n\r\n");
      if (end == std::string::npos) return ReadRequest(sock, buf);
      std::size_t content_length = 0;
      auto cl = buf->find("Content-Length: ");
      if (cl == std::string::npos) cl = buf->find("content-length: ");
      if (cl != std::string::npos) content_length = std::stoul(buf->substr(cl + 16));
      if (buf->size() < end + 4 + content_length) return ReadRequest(sock, buf);
      std::string body = buf->substr(end + 4, content_length);
      std::string first = buf->substr(0, buf->find("\r\n"));
      int status = 404;
      std::string out = R"({"code":404,"desp":"not found"})";
      if (first.rfind("GET /v1/nodes", 0) == 0) {
        ++owner_->node_requests;
        std::lock_guard<std::mutex> lock(mu_);
        status = 200;
        out = nodes_;
      } else if (first.rfind("POST /v1/tokens", 0) == 0) {
        ++owner_->token_requests;
        auto req = nlohmann::json::parse(body, nullptr, false);
        status = 401;
        out = R"({"code":401,"desp":"bad account or password"})";
        std::lock_guard<std::mutex> lock(mu_);
        if (req.is_object()) {
          auto it = accounts_.find(req.value("no", ""));
          if (it != accounts_.end() && it->second.password == req.value("password", "")) {
            status = 200;
            out = nlohmann::json{{"uid", it->second.uid}, {"token", it->second.token},
                                 {"expires_in", 86400}}
                      .dump();
          }
        }
      }
      auto response = std::make_shared<std::string>(
          "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
          "Content-Length: " + std::to_string(out.size()) + "\r\nConnection: close\r\n\r\n" + out);
      asio::async_write(*sock, asio::buffer(*response),
                        [sock, response](boost::system::error_code, std::size_t) {
                          boost::system::error_code ignored;
                          sock->shutdown(tcp::socket::shutdown_both, ignored);
                        });
    });
  }

  struct Account {
    std::string password;
    std::int64_t uid;
    std::string token;
  };
  FakeAdmin* owner_ = nullptr;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::mutex mu_;
  std::string nodes_ = R"({"confgiinfo":{"node_array":[]},"confgiinfo_timestamp":0})";
  std::map<std::string, Account> accounts_;
  std::thread thread_;
};

FakeAdmin::FakeAdmin() : impl_(std::make_shared<Impl>()) {
  impl_->owner_ = this;
  port_ = impl_->acceptor_.local_endpoint().port();
  impl_->Accept();
  impl_->thread_ = std::thread([impl = impl_.get()] {
    auto guard = asio::make_work_guard(impl->io_);
    impl->io_.run();
  });
}

FakeAdmin::~FakeAdmin() {
  impl_->io_.stop();
  impl_->thread_.join();
}

void FakeAdmin::SetNodes(const std::string& json) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->nodes_ = json;
}

void FakeAdmin::AddAccount(const std::string& no, const std::string& password, std::int64_t uid,
                           const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->accounts_[no] = {password, uid, token};
}

std::string NodesJson(const std::vector<int>& notify_ports, const std::vector<int>& sync_ports) {
  nlohmann::json arr = nlohmann::json::array();
  int id = 1;
  for (int p : notify_ports) {
    arr.push_back({{"id", id++}, {"tcp_port", p}, {"udp_port", 0}, {"weight", 100},
                   {"server_type", 1}, {"tcp_protocol", ""}, {"address", "127.0.0.1"},
                   {"disabled", 0}});
  }
  for (int p : sync_ports) {
    arr.push_back({{"id", id++}, {"tcp_port", p}, {"udp_port", 0}, {"weight", 100},
                   {"server_type", 2}, {"tcp_protocol", ""}, {"address", "127.0.0.1"},
                   {"disabled", 0}});
  }
  return nlohmann::json{{"confgiinfo", {{"node_array", arr}}}, {"confgiinfo_timestamp", 1582004741}}
      .dump();
}

}  // namespace im::sdk::testing
