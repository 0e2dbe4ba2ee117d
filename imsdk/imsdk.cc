#include "imsdk/imsdk.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "imsdk/message_store.h"
#include "imsdk/node_selector.h"
#include "imsdk/sync_module.h"

namespace im::sdk {
namespace asio = boost::asio;

class ImSdk::Impl {
 public:
  Impl(Options options, Callbacks callbacks)
      : work_(asio::make_work_guard(io_)), blocking_work_(asio::make_work_guard(blocking_io_)) {
    std::string error;
    if (!store_.Open(options.state_dir, &error)) {
      init_status_ = kErrStore;
      if (callbacks.on_log) {
        callbacks.on_log(LogLevel::kError, "local store: " + error);
      }
    }
    executor_ = options.executor;
    module_ = std::make_unique<SyncModule>(
        io_, std::move(options), std::move(callbacks), &store_, shared_,
        [this](std::function<void()> job) { asio::post(blocking_io_, std::move(job)); });
    thread_ = std::thread([this] { io_.run(); });
    blocking_thread_ = std::thread([this] { blocking_io_.run(); });
  }

  ~Impl() {
    shared_->account_gen.fetch_add(1);  // callbacks still queued in an app executor are dropped
    std::promise<void> done;
    asio::post(io_, [this, &done] {
      module_->Shutdown();
      io_.stop();
      done.set_value();
    });
    if (std::this_thread::get_id() != thread_.get_id()) {
      done.get_future().wait();
      thread_.join();
    } else {
      thread_.detach();  // destroyed from a callback: misuse, but do not deadlock
    }
    blocking_work_.reset();
    blocking_io_.stop();
    blocking_thread_.join();
    module_.reset();
  }

  template <typename F>
  void Post(F&& f) {
    asio::post(io_, std::forward<F>(f));
  }

  asio::io_context io_;
  asio::io_context blocking_io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::executor_work_guard<asio::io_context::executor_type> blocking_work_;
  MessageStore store_;
  std::shared_ptr<SharedState> shared_ = std::make_shared<SharedState>();
  std::unique_ptr<SyncModule> module_;
  std::function<void(std::function<void()>)> executor_;
  int init_status_ = kOk;
  std::thread thread_;
  std::thread blocking_thread_;
  std::mutex account_mu_;
  bool has_account_ = false;
};

ImSdk::ImSdk(Options options, Callbacks callbacks)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(callbacks))) {}

ImSdk::~ImSdk() = default;

int ImSdk::init_status() const { return impl_->init_status_; }

void ImSdk::SetAccount(const std::string& no, const std::string& password) {
  {
    std::lock_guard<std::mutex> lock(impl_->account_mu_);
    impl_->has_account_ = !no.empty();
  }
  impl_->Post([impl = impl_.get(), no, password] { impl->module_->SetAccount(no, password, 0); });
}

void ImSdk::SetToken(std::int64_t uid, const std::string& token) {
  {
    std::lock_guard<std::mutex> lock(impl_->account_mu_);
    impl_->has_account_ = uid > 0 && !token.empty();
  }
  if (uid > 0) impl_->shared_->uid.store(uid);
  impl_->Post([impl = impl_.get(), uid, token] { impl->module_->SetToken(uid, token); });
}

int ImSdk::SetBufferedServerNodeInfo(const std::string& json) {
  std::vector<ServerNode> nodes;
  std::int64_t ts = 0;
  std::string error;
  if (!ParseNodeConfig(json, &nodes, &ts, &error)) return kErrBadArgument;
  impl_->store_.SetKv("buffered_config", json);
  impl_->Post([impl = impl_.get()] { impl->module_->OnBufferedConfig(); });
  return kOk;
}

std::string ImSdk::GetServerNodeInfo() const { return impl_->store_.GetKv("buffered_config"); }

void ImSdk::SetNetworkCurMode(int mode, const std::string& carrier) {
  (void)carrier;
  if (mode < 0 || mode > 2) return;
  impl_->Post([impl = impl_.get(), mode] { impl->module_->SetNetworkMode(mode); });
}

int ImSdk::Startup() {
  {
    std::lock_guard<std::mutex> lock(impl_->account_mu_);
    if (!impl_->has_account_) return kErrBadArgument;
  }
  impl_->Post([impl = impl_.get()] { impl->module_->Startup(); });
  return kOk;
}

int ImSdk::ChangeNo(const std::string& no, const std::string& password, std::int64_t uid) {
  if (no.empty()) return kErrBadArgument;
  {
    std::lock_guard<std::mutex> lock(impl_->account_mu_);
    impl_->has_account_ = true;
  }
  // From here on no callback of the old account reaches the application.
  impl_->shared_->account_gen.fetch_add(1);
  impl_->shared_->uid.store(uid);
  impl_->Post([impl = impl_.get(), no, password, uid] {
    impl->module_->Stop();
    impl->module_->SetAccount(no, password, uid);
    impl->module_->Startup();
  });
  return kOk;
}

int ImSdk::ChangeToken(std::int64_t uid, const std::string& token) {
  if (uid <= 0 || token.empty()) return kErrBadArgument;
  {
    std::lock_guard<std::mutex> lock(impl_->account_mu_);
    impl_->has_account_ = true;
  }
  impl_->shared_->account_gen.fetch_add(1);
  impl_->shared_->uid.store(uid);
  impl_->Post([impl = impl_.get(), uid, token] {
    impl->module_->Stop();
    impl->module_->SetToken(uid, token);
    impl->module_->Startup();
  });
  return kOk;
}

namespace {
std::int32_t QueueSendCommon(ImSdk::Impl* impl, bool is_group, std::int64_t app_msg_id,
                             std::int64_t to, std::int32_t msg_type, const std::string& data,
                             std::int32_t msg_flag) {
  if (to <= 0 || data.empty() || data.size() > 65000) return kErrBadArgument;
  std::int64_t uid = impl->shared_->uid.load();
  if (uid <= 0) return kErrNotStarted;
  PendingSend p;
  p.msgid = impl->store_.NextMsgid(uid);
  p.app_msg_id = app_msg_id;
  p.is_group = is_group;
  p.to = to;
  p.msg_type = msg_type;
  p.msg_flag = msg_flag;
  p.timestamp = static_cast<std::int32_t>(std::time(nullptr));
  p.content = data;
  p.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  impl->store_.AddPending(uid, p);
  std::int32_t msgid = p.msgid;
  std::uint64_t gen = impl->shared_->account_gen.load();
  asio::post(impl->io_, [impl, p = std::move(p), gen]() mutable {
    if (impl->shared_->account_gen.load() != gen) return;  // queued for the old account
    impl->module_->QueueSend(std::move(p));
  });
  return msgid;
}
}  // namespace

std::int32_t ImSdk::SendPeerMsg(std::int64_t app_msg_id, std::int64_t recv_uid,
                                std::int32_t msg_type, const std::string& data,
                                std::int32_t msg_flag) {
  return QueueSendCommon(impl_.get(), false, app_msg_id, recv_uid, msg_type, data, msg_flag);
}

std::int32_t ImSdk::SendGroupMsg(std::int64_t app_msg_id, std::int64_t group_id,
                                 std::int32_t msg_type, const std::string& data,
                                 std::int32_t msg_flag) {
  return QueueSendCommon(impl_.get(), true, app_msg_id, group_id, msg_type, data, msg_flag);
}

void ImSdk::AckGroupOffset(std::int64_t group_id, std::int64_t offset) {
  if (group_id < 0 || offset < 0) return;
  impl_->Post([impl = impl_.get(), group_id, offset] { impl->module_->Ack(group_id, offset); });
}

void ImSdk::Stop() {
  impl_->Post([impl = impl_.get()] { impl->module_->Stop(); });
}

std::map<std::int64_t, std::int64_t> ImSdk::Offsets() const {
  return impl_->store_.Offsets(impl_->shared_->uid.load());
}

std::vector<Message> ImSdk::History(std::int64_t group_id, int limit) const {
  return impl_->store_.History(impl_->shared_->uid.load(), group_id, limit);
}

std::int64_t ImSdk::uid() const { return impl_->shared_->uid.load(); }

bool ImSdk::synced() const { return impl_->shared_->synced.load(); }

State ImSdk::state() const { return static_cast<State>(impl_->shared_->state.load()); }

}  // namespace im::sdk
