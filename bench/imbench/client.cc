#include "bench/imbench/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <random>

#include "bench/imbench/engine.h"
#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"

namespace im::bench {

namespace asio = boost::asio;

// ---------------- Conn ----------------

Conn::Conn(User* user, Role role) : user_(user), role_(role) {}
Conn::~Conn() = default;

void Conn::Open(const asio::ip::tcp::endpoint& endpoint) {
  Close();
  const std::uint32_t gen = ++gen_;
  socket_ = std::make_unique<asio::ip::tcp::socket>(user_->loop()->io);
  decoder_ = std::make_unique<net::FrameDecoder>();
  state_ = State::kConnecting;
  seq_ = 0;
  socket_->async_connect(endpoint, [this, gen](const boost::system::error_code& ec) {
    if (gen != gen_) return;
    if (ec) return Fail("connect: " + ec.message());
    boost::system::error_code ignored;
    socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
    socket_->non_blocking(true, ignored);
    state_ = State::kLoggingIn;
    client::ImLogin login;
    login.set_token(user_->token_);
    login.set_device_id(user_->engine()->device_id());
    login.set_platform(0);
    login.set_client_version("imbench/1");
    out_ += net::EncodeFrame(user_->uid(), net::kCmdLogin, ++seq_, login);
    Flush();
    WaitReadable(gen);
  });
}

void Conn::Close() {
  ++gen_;
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);
  }
  if (state_ == State::kReady) {
    (role_ == Role::kNotify ? user_->engine()->notify_connections : user_->engine()->sync_connections)--;
  }
  state_ = State::kClosed;
  out_.clear();
  writing_.clear();
  write_active_ = false;
}

void Conn::Fail(const std::string& why) {
  const bool was_logging_in = state_ == State::kConnecting || state_ == State::kLoggingIn;
  Close();
  if (was_logging_in) {
    user_->OnLogin(role_, 0);
    if (user_->engine()->options().verbose) {
      std::fprintf(stderr, "uid %lld %s: %s\n", static_cast<long long>(user_->uid()),
                   role_ == Role::kNotify ? "notify" : "sync", why.c_str());
    }
    return;
  }
  user_->OnClosed(role_, why);
}

std::int32_t Conn::Send(std::int16_t cmd, const google::protobuf::MessageLite& body) {
  if (state_ != State::kReady) return 0;
  if (++seq_ <= 0) seq_ = 1;
  out_ += net::EncodeFrame(user_->uid(), cmd, seq_, body);
  last_send_ns_ = NowNs();
  tokens_ -= 1;
  Flush();
  return seq_;
}

bool Conn::MayStartSend(std::int64_t now_ns) {
  const int rate = user_->engine()->options().conn_rate;
  if (rate <= 0) return true;
  // Token bucket: `rate` per second, a burst of rate/5, so that any one-second
  // window of the server sees at most 1.2 * rate frames.
  const double burst = std::max(1.0, rate / 5.0);
  tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ns - tokens_ns_) * 1e-9 * rate);
  tokens_ns_ = now_ns;
  return tokens_ >= 1;
}

void Conn::Flush() {
  if (write_active_ || out_.empty() || !socket_) return;
  std::swap(out_, writing_);
  write_active_ = true;
  const std::uint32_t gen = gen_;
  asio::async_write(*socket_, asio::buffer(writing_), [this, gen](const boost::system::error_code& ec, std::size_t) {
    if (gen != gen_) return;
    write_active_ = false;
    writing_.clear();
    if (ec) return Fail("write: " + ec.message());
    Flush();
  });
}

void Conn::WaitReadable(std::uint32_t gen) {
  socket_->async_wait(asio::ip::tcp::socket::wait_read, [this, gen](const boost::system::error_code& ec) {
    if (gen != gen_) return;
    if (ec) return Fail("read: " + ec.message());
    OnReadable(gen);
  });
}

void Conn::OnReadable(std::uint32_t gen) {
  // Read into the loop's shared buffer (one read at a time per loop), then
  // hand whole frames to the user.
  std::vector<char>& buffer = user_->loop()->read_buffer;
  boost::system::error_code ec;
  for (int i = 0; i < 16; ++i) {
    const std::size_t n = socket_->read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block) break;
    if (ec) return Fail(ec == asio::error::eof ? "closed by server" : "read: " + ec.message());
    decoder_->Append(std::string_view(buffer.data(), n));
    while (true) {
      net::ParseResult r = decoder_->Next();
      if (r.status == net::ParseStatus::kNeedMore) break;
      if (r.status != net::ParseStatus::kFrame) return Fail(std::string("bad frame: ") + net::ParseStatusName(r.status));
      if (r.frame.header.cmdid == net::kCmdLoginRes && state_ == State::kLoggingIn) {
        client::ImLoginRes res;
        res.ParseFromArray(r.frame.body.data(), static_cast<int>(r.frame.body.size()));
        if (res.code() != 200) {
          user_->engine()->stats()->Error("login:" + std::to_string(res.code()));
          return Fail("login refused " + std::to_string(res.code()) + " " + res.desp());
        }
        state_ = State::kReady;
        (role_ == Role::kNotify ? user_->engine()->notify_connections : user_->engine()->sync_connections)++;
        user_->OnLogin(role_, 200);
      } else {
        user_->OnFrame(role_, r.frame);
      }
      if (gen != gen_) return;  // the user closed this connection
    }
    if (n < buffer.size()) break;
  }
  WaitReadable(gen);
}

// ---------------- User ----------------

User::User(Engine* engine, Loop* loop, int index, std::int64_t uid, std::string token)
    : engine_(engine), loop_(loop), index_(index), uid_(uid), token_(std::move(token)),
      notify_(this, Role::kNotify), sync_(this, Role::kSync) {}

bool User::ready() const { return notify_.ready() && offsets_known_ && (!sender || sync_.ready()); }

void User::Connect() {
  offsets_known_ = false;
  catch_up_via_ = Via::kCatchUp;  // what arrives by the pulls after login was missed while offline
  catch_up_pending = false;
  notify_.Open(engine_->notify_endpoint(index_));
  if (sender) sync_.Open(engine_->sync_endpoint(index_));
}

void User::Disconnect() {
  notify_.Close();
  sync_.Close();
  engine_->pulls_in_flight -= static_cast<std::int64_t>(pulls_.size());
  pulls_.clear();
  wanted_pulls_.clear();
  pings_.clear();
  for (auto& [gid, s] : seqs_) {
    s.pulling = false;
    s.pull_again = false;
  }
  engine_->inflight -= inflight_;
  inflight_ = 0;
  if (catch_up_pending) {
    catch_up_pending = false;
    engine_->catch_ups_pending--;
  }
}

void User::OnLogin(Role role, int code) {
  if (code != 200) {
    if (role == Role::kNotify || sender) {
      Disconnect();
      if (initial_) {
        initial_ = false;
        engine_->OnUserFailed();
        engine_->OnConnectDone(loop_);
      } else {
        offline_until_ns = NowNs() + 1'000'000'000;  // retry
      }
    } else {
      wanted_pulls_.clear();  // a later gap check or catch-up pulls again
    }
    return;
  }
  engine_->stats()->Add(Counter::kLogins);
  if (role == Role::kNotify) {
    // Starting offsets (§5.7); the answer completes the login.
    catch_up_pending = true;
    engine_->catch_ups_pending++;
    notify_.Send(net::kCmdGetSyncOffsets, client::ImGetSyncOffsets());
  } else {
    for (std::int64_t gid : wanted_pulls_) SendPull(gid);
    wanted_pulls_.clear();
    ReportReady();
    MaybeCloseSync();
  }
}

void User::ReportReady() {
  if (!initial_ || !ready()) return;
  initial_ = false;
  engine_->OnUserReady();
  engine_->OnConnectDone(loop_);
}

void User::OnClosed(Role role, const std::string& why) {
  engine_->stats()->Error(std::string("closed:") + (role == Role::kNotify ? "notify" : "sync"));
  if (engine_->options().verbose) {
    std::fprintf(stderr, "uid %lld %s closed: %s\n", static_cast<long long>(uid_),
                 role == Role::kNotify ? "notify" : "sync", why.c_str());
  }
  // Like a client: drop both and reconnect; catch up after login.
  Disconnect();
  offline_until_ns = NowNs() + 1'000'000'000;
}

void User::CatchUp(Via via) {
  if (!notify_.ready()) return;
  catch_up_via_ = via;
  if (!catch_up_pending) {
    catch_up_pending = true;
    engine_->catch_ups_pending++;
  }
  notify_.Send(net::kCmdGetSyncOffsets, client::ImGetSyncOffsets());
}

void User::RetryCatchUp() {
  catch_up_retry_ns = 0;
  if (catch_up_pending && notify_.ready()) notify_.Send(net::kCmdGetSyncOffsets, client::ImGetSyncOffsets());
}

void User::Ping(std::int64_t now_ns) {
  client::UserMsgSyncInfo info;
  auto it = seqs_.find(0);
  if (it != seqs_.end()) info.set_offset(it->second.last);
  if (notify_.ready()) {
    const std::int32_t seq = notify_.Send(net::kCmdHeartPing, info);
    if (seq != 0) pings_[seq] = now_ns;
  }
  if (sync_.ready() && now_ns - sync_.last_send_ns() > static_cast<std::int64_t>(engine_->options().heartbeat_ms) * 1'000'000) {
    sync_.Send(net::kCmdHeartPing, info);
  }
}

bool User::TrySend(std::int64_t now_ns) {
  if (!sync_.ready() || !notify_.ready() || draining || !sync_.MayStartSend(now_ns)) return false;
  if (!engine_->ClaimSend()) return false;
  static thread_local std::mt19937_64 rng(std::random_device{}());
  const std::int32_t msgid = ++next_msgid_;
  const std::uint64_t key = Ledger::Key(uid_, msgid);
  std::string content = std::to_string(uid_) + "." + std::to_string(msgid) + "|";
  const std::size_t size = static_cast<std::size_t>(engine_->options().size);
  if (content.size() < size) content.append(engine_->padding(), 0, size - content.size());
  const auto len = static_cast<std::int32_t>(content.size());
  if (group != 0) {
    client::ImGroupSendMsg m;
    m.set_fromuid(uid_);
    m.set_togroupid(group);
    m.set_timestamp(0);
    m.set_msgid(msgid);
    m.set_len(len);
    m.set_content(std::move(content));
    engine_->ledger()->OnSend(key, now_ns, engine_->GroupReceivers(group));
    sync_.Send(net::kCmdGroupSendIm, m);
  } else {
    client::ImClientSendMsg m;
    m.set_fromuid(uid_);
    m.set_touid(engine_->PickReceiver(this, &rng));
    m.set_msgid(msgid);
    m.set_len(len);
    m.set_content(std::move(content));
    engine_->ledger()->OnSend(key, now_ns, 1);
    sync_.Send(net::kCmdClientSendIm, m);
  }
  ++inflight_;
  engine_->inflight++;
  engine_->stats()->Add(Counter::kSent);
  return true;
}

void User::OnAnswered() {
  --inflight_;
  engine_->inflight--;
  if (draining && inflight_ == 0) {
    Disconnect();
    draining = false;
    offline_until_ns = NowNs() + static_cast<std::int64_t>(engine_->options().offline_ms) * 1'000'000;
    return;
  }
  // Closed loop: the answer frees a slot.
  if (engine_->loading() && engine_->options().rate <= 0) {
    if (!TrySend(NowNs()) && sync_.ready() && !draining) loop_->stalled.push_back(this);
  }
}

namespace {
// Content is "<from uid>.<msgid>|padding": the key of a pushed message.
bool KeyFromContent(const std::string& content, std::uint64_t* key) {
  const auto dot = content.find('.');
  const auto bar = content.find('|');
  if (dot == std::string::npos || bar == std::string::npos || bar < dot) return false;
  *key = Ledger::Key(std::atoll(content.c_str()), static_cast<std::int32_t>(std::atol(content.c_str() + dot + 1)));
  return true;
}
}  // namespace

void User::OnFrame(Role role, const net::Frame& frame) {
  const std::int64_t now = NowNs();
  const char* data = frame.body.data();
  const int size = static_cast<int>(frame.body.size());
  Stats* stats = engine_->stats();
  switch (frame.header.cmdid) {
    case net::kCmdHeartPong: {
      auto it = pings_.find(frame.header.seq);
      if (it != pings_.end()) {
        stats->Add(Counter::kPongs);
        stats->Record(Latency::kPong, (now - it->second) / 1000);
        pings_.erase(it);
      }
      return;
    }
    case net::kCmdGetSyncOffsetsRes: {
      client::ImSyncOffsets res;
      res.ParseFromArray(data, size);
      offsets_known_ = true;
      for (const auto& info : res.latest()) {
        SeqState& s = seqs_[info.groupid()];
        if (!s.known) {  // a fresh device starts at the newest offset (§5.7)
          s.known = true;
          s.last = info.offset();
          continue;
        }
        if (info.offset() > s.last) RequestPull(info.groupid(), catch_up_via_);
      }
      if (catch_up_pending) {
        catch_up_pending = false;
        engine_->catch_ups_pending--;
      }
      ReportReady();
      return;
    }
    case net::kCmdNotifySyncHasChatData: {
      client::ImSyncNotifyWithData m;
      std::uint64_t key = 0;
      if (!m.ParseFromArray(data, size) || !KeyFromContent(m.content(), &key)) {
        stats->Error("bad:337");
        return;
      }
      Receive(0, m.offset(), m.fromuid(), key, Via::kPush);
      return;
    }
    case net::kCmdGroupNotifySyncHasChatData: {
      client::ImGroupSyncNotifyWithData m;
      std::uint64_t key = 0;
      if (!m.ParseFromArray(data, size) || !KeyFromContent(m.content(), &key)) {
        stats->Error("bad:338");
        return;
      }
      Receive(m.togroupid(), m.offset(), m.fromuid(), key, Via::kPush);
      return;
    }
    case net::kCmdNotifySync:
    case net::kCmdGroupNotifySync: {
      client::UserMsgSyncInfo info;
      info.ParseFromArray(data, size);
      SeqState& s = seqs_[info.groupid()];
      if (info.offset() > s.last && s.ahead.count(info.offset()) == 0) RequestPull(info.groupid(), Via::kPull);
      return;
    }
    case net::kCmdClientSendIm: {  // pulled peer message
      client::ImClientSendMsgSync m;
      m.ParseFromArray(data, size);
      stats->Add(Counter::kPulledMessages);
      auto it = pulls_.find(frame.header.seq);
      const Via via = it != pulls_.end() ? seqs_[0].pull_via : Via::kPull;
      Receive(0, m.offset(), m.fromuid(), Ledger::Key(m.fromuid(), m.msgid()), via);
      return;
    }
    case net::kCmdGroupSendIm: {  // pulled group message
      client::ImGroupSendMsgSync m;
      m.ParseFromArray(data, size);
      stats->Add(Counter::kPulledMessages);
      const Via via = seqs_[m.togroupid()].pull_via;
      Receive(m.togroupid(), m.offset(), m.fromuid(), Ledger::Key(m.fromuid(), m.msgid()), via);
      return;
    }
    case net::kCmdClientSendImRes: {
      client::ImClientSendMsgRes res;
      res.ParseFromArray(data, size);
      engine_->ledger()->OnAnswer(Ledger::Key(uid_, res.msgid()), res.code(), 0, now);
      if (res.code() == 200) MarkOwn(0, res.offset());
      OnAnswered();
      return;
    }
    case net::kCmdGroupSendImRes: {
      client::ImGroupSendMsgRes res;
      res.ParseFromArray(data, size);
      engine_->ledger()->OnAnswer(Ledger::Key(uid_, res.msgid()), res.code(), res.offset(), now);
      if (res.code() == 200) MarkOwn(res.togroupid(), res.offset());
      OnAnswered();
      return;
    }
    case net::kCmdSyncPullRes: {
      client::ImSyncPullRes res;
      res.ParseFromArray(data, size);
      auto it = pulls_.find(frame.header.seq);
      if (it == pulls_.end()) return;
      const std::int64_t gid = it->second;
      pulls_.erase(it);
      engine_->pulls_in_flight--;
      SeqState& s = seqs_[gid];
      s.pulling = false;
      if (res.code() != 200) {
        stats->Error("318:" + std::to_string(res.code()));
      } else if (res.hasmore() || s.pull_again) {
        s.pull_again = false;
        SendPull(gid);
      } else if (res.lastoffset() > s.last && s.ahead.empty()) {
        // Retention: history before the first pulled offset expired (§4).
        s.last = res.lastoffset();
      }
      MaybeCloseSync();
      return;
    }
    case net::kCmdError: {
      client::ImError e;
      e.ParseFromArray(data, size);
      stats->Error("399:" + std::to_string(e.code()));
      if (role == Role::kNotify && catch_up_pending && e.code() == net::kCodeUnavailable) {
        // 340 answered "unavailable, retry": ask again shortly (the loop's tick).
        catch_up_retry_ns = now + 300'000'000 + static_cast<std::int64_t>(index_ % 64) * 10'000'000;
      }
      if (engine_->options().verbose) {
        std::fprintf(stderr, "uid %lld %s: IM_CMD_ERROR %d %s\n", static_cast<long long>(uid_),
                     role == Role::kNotify ? "notify" : "sync", e.code(), e.desp().c_str());
      }
      return;
    }
    default:
      return;  // unknown S->C commands are ignored (§1.2)
  }
}

void User::Advance(SeqState* s) {
  while (!s->ahead.empty() && *s->ahead.begin() <= s->last + 1) {
    s->last = std::max(s->last, *s->ahead.begin());
    s->ahead.erase(s->ahead.begin());
  }
  if (s->ahead.empty()) {
    s->gap_since_ns = 0;
  } else if (s->gap_since_ns == 0) {
    s->gap_since_ns = NowNs();
    if (!in_gap_list) {
      in_gap_list = true;
      loop_->gapped.push_back(this);
    }
  }
}

void User::Receive(std::int64_t gid, std::int64_t offset, std::int64_t from, std::uint64_t key, Via via) {
  SeqState& s = seqs_[gid];
  if (!s.known) {  // a sequence first seen now (a new group): take everything from here
    s.known = true;
    s.last = offset - 1;
  }
  if (offset <= s.last || s.ahead.count(offset) != 0) {
    engine_->stats()->Add(Counter::kRedundantFrames);
    return;
  }
  s.ahead.insert(offset);
  Advance(&s);
  if (from != uid_) engine_->ledger()->OnReceive(key, offset, gid != 0, via, NowNs());
}

void User::MarkOwn(std::int64_t gid, std::int64_t offset) {
  SeqState& s = seqs_[gid];
  if (!s.known || offset <= s.last || s.ahead.count(offset) != 0) return;
  s.ahead.insert(offset);
  Advance(&s);
}

void User::CheckGaps(std::int64_t now_ns) {
  bool gapped = false;
  const std::int64_t grace = static_cast<std::int64_t>(engine_->options().gap_grace_ms) * 1'000'000;
  for (auto& [gid, s] : seqs_) {
    if (s.gap_since_ns == 0) continue;
    gapped = true;
    if (now_ns - s.gap_since_ns >= grace && !s.pulling) {
      s.gap_since_ns = now_ns;  // pull again only after another grace period
      RequestPull(gid, Via::kPull);
    }
  }
  in_gap_list = gapped;
}

void User::RequestPull(std::int64_t gid, Via via) {
  SeqState& s = seqs_[gid];
  s.pull_via = via;
  if (s.pulling) {
    s.pull_again = true;
    return;
  }
  if (sync_.ready()) return SendPull(gid);
  if (std::find(wanted_pulls_.begin(), wanted_pulls_.end(), gid) == wanted_pulls_.end()) wanted_pulls_.push_back(gid);
  if (sync_.closed()) OpenSync();
}

void User::SendPull(std::int64_t gid) {
  SeqState& s = seqs_[gid];
  client::ImSyncPull pull;
  pull.set_groupid(gid);
  pull.set_offset(s.last);
  pull.set_limit(500);
  const std::int32_t seq = sync_.Send(net::kCmdSyncPull, pull);
  if (seq == 0) return;
  pulls_[seq] = gid;
  s.pulling = true;
  engine_->pulls_in_flight++;
  engine_->stats()->Add(Counter::kPulls);
}

void User::OpenSync() { sync_.Open(engine_->sync_endpoint(index_)); }

void User::MaybeCloseSync() {
  // Devices that only receive hold a sync connection only while they pull.
  if (!sender && pulls_.empty() && wanted_pulls_.empty() && sync_.ready()) sync_.Close();
}

}  // namespace im::bench
