#include "imsdk/imsdk_c.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "imsdk/imsdk.h"

namespace {

std::mutex g_mu;
std::shared_ptr<im::sdk::ImSdk> g_sdk;

std::shared_ptr<im::sdk::ImSdk> Sdk() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_sdk;
}

std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

int StateCode(im::sdk::State s) {
  switch (s) {
    case im::sdk::State::kStopped: return IMSDK_STATE_STOPPED;
    case im::sdk::State::kConnecting: return IMSDK_STATE_CONNECTING;
    case im::sdk::State::kOnline: return IMSDK_STATE_ONLINE;
    case im::sdk::State::kAuthFailed: return IMSDK_STATE_AUTH_FAILED;
    case im::sdk::State::kNoNetwork: return IMSDK_STATE_NO_NETWORK;
  }
  return IMSDK_STATE_STOPPED;
}

}  // namespace

extern "C" {

int IMSdkInit(const IMSdkConfig* config, const IMSdkCallbacks* callbacks) {
  if (config == nullptr) return IMSDK_ERR_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sdk) return IMSDK_ERR_BAD_ARGUMENT;
  im::sdk::Options o;
  o.admin_url = Str(config->admin_url);
  o.notify_addr = Str(config->notify_addr);
  o.sync_addr = Str(config->sync_addr);
  o.state_dir = Str(config->state_dir);
  o.device_id = config->device_id;
  if (config->heartbeat_interval_ms > 0) o.heartbeat_interval_ms = config->heartbeat_interval_ms;
  if (config->reconnect_initial_ms > 0) o.reconnect_initial_ms = config->reconnect_initial_ms;
  if (config->reconnect_max_ms > 0) o.reconnect_max_ms = config->reconnect_max_ms;
  im::sdk::Callbacks cb;
  if (callbacks != nullptr) {
    IMSdkCallbacks c = *callbacks;
    if (c.on_message) {
      cb.on_message = [c](const im::sdk::Message& m) {
        IMSdkMessage cm;
        cm.group_id = m.group_id;
        cm.offset = m.offset;
        cm.from_uid = m.from_uid;
        cm.to_uid = m.to_uid;
        cm.timestamp = m.timestamp;
        cm.msgid = m.msgid;
        cm.msg_type = m.msg_type;
        cm.msg_flag = m.msg_flag;
        cm.len = static_cast<int32_t>(m.content.size());
        cm.data = m.content.data();
        c.on_message(c.user_data, &cm);
      };
    }
    if (c.on_send_result) {
      cb.on_send_result = [c](const im::sdk::SendResult& r) {
        c.on_send_result(c.user_data, r.app_msg_id, r.msgid, r.to, r.is_group ? 1 : 0, r.code,
                         r.offset);
      };
    }
    if (c.on_state) {
      cb.on_state = [c](im::sdk::State s, int code, const std::string& desp) {
        c.on_state(c.user_data, StateCode(s), code, desp.c_str());
      };
    }
    if (c.AppLogsDebug || c.AppLogsInfo || c.AppLogsWarn || c.AppLogsError) {
      cb.on_log = [c](im::sdk::LogLevel level, const std::string& line) {
        void (*f)(void*, const char*) = nullptr;
        switch (level) {
          case im::sdk::LogLevel::kDebug: f = c.AppLogsDebug; break;
          case im::sdk::LogLevel::kInfo: f = c.AppLogsInfo; break;
          case im::sdk::LogLevel::kWarn: f = c.AppLogsWarn; break;
          case im::sdk::LogLevel::kError: f = c.AppLogsError; break;
        }
        if (f) f(c.user_data, line.c_str());
      };
    }
  }
  g_sdk = std::make_shared<im::sdk::ImSdk>(std::move(o), std::move(cb));
  return g_sdk->init_status();
}

void IMSdkDestroy(void) {
  std::shared_ptr<im::sdk::ImSdk> sdk;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    sdk.swap(g_sdk);
  }
  sdk.reset();
}

void SetNetworkCurMode(int mode, const char* carrier) {
  if (auto s = Sdk()) s->SetNetworkCurMode(mode, Str(carrier));
}

int IMSdkSetBufferedServerNodeInfo(const char* json) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (json == nullptr) return IMSDK_ERR_BAD_ARGUMENT;
  return s->SetBufferedServerNodeInfo(json);
}

char* IMSdkGetServerNodeInfo(void) {
  auto s = Sdk();
  if (!s) return nullptr;
  std::string json = s->GetServerNodeInfo();
  if (json.empty()) return nullptr;
  char* out = static_cast<char*>(std::malloc(json.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, json.c_str(), json.size() + 1);
  return out;
}

void IMSdkFreeString(char* s) { std::free(s); }

int IMSdkSetAccount(const char* no, const char* passwd) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (no == nullptr || *no == '\0') return IMSDK_ERR_BAD_ARGUMENT;
  s->SetAccount(no, Str(passwd));
  return IMSDK_OK;
}

int IMSdkSetToken(int64_t uid, const char* token) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (uid <= 0 || token == nullptr || *token == '\0') return IMSDK_ERR_BAD_ARGUMENT;
  s->SetToken(uid, token);
  return IMSDK_OK;
}

int IMSdkStartup(void) {
  auto s = Sdk();
  return s ? s->Startup() : IMSDK_ERR_NOT_STARTED;
}

int IMSdkChangeNo(const char* no, const char* passwd, int64_t uid) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (no == nullptr || *no == '\0') return IMSDK_ERR_BAD_ARGUMENT;
  return s->ChangeNo(no, Str(passwd), uid);
}

int32_t IMSendPeeerMsgWithFlag(int64_t appmsgID, int64_t recvUID, int32_t msgType,
                               int32_t msgflag, int32_t msgLen, const char* data) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (data == nullptr || msgLen <= 0) return IMSDK_ERR_BAD_ARGUMENT;
  return s->SendPeerMsg(appmsgID, recvUID, msgType, std::string(data, msgLen), msgflag);
}

int32_t IMSendPeeerMsg(int64_t appmsgID, int64_t recvUID, int32_t msgType, int32_t msgLen,
                       const char* data) {
  return IMSendPeeerMsgWithFlag(appmsgID, recvUID, msgType, 0, msgLen, data);
}

int32_t IMSendGroupMsg(int64_t appmsgID, int64_t groupID, int32_t msgType, int32_t msgLen,
                       const char* data) {
  auto s = Sdk();
  if (!s) return IMSDK_ERR_NOT_STARTED;
  if (data == nullptr || msgLen <= 0) return IMSDK_ERR_BAD_ARGUMENT;
  return s->SendGroupMsg(appmsgID, groupID, msgType, std::string(data, msgLen), 0);
}

void IMAckGroupOffset(int64_t groupid, int64_t offset) {
  if (auto s = Sdk()) s->AckGroupOffset(groupid, offset);
}

int64_t IMSdkGetOffset(int64_t groupid) {
  auto s = Sdk();
  if (!s) return 0;
  auto offsets = s->Offsets();
  auto it = offsets.find(groupid);
  return it == offsets.end() ? 0 : it->second;
}

void IMSdkStop(void) {
  if (auto s = Sdk()) s->Stop();
}

}  // extern "C"
