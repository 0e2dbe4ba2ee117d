/* imsdk C ABI: the original API (section 6.2) as plain C for JNI / Swift
 * bindings. One SDK instance per process (the original design), created by
 * IMSdkInit and destroyed by IMSdkDestroy. Every function is thread safe and
 * returns without waiting for the network. Callbacks run on the SDK thread;
 * they may call these functions except IMSdkDestroy. Strings passed in are
 * copied; strings passed to callbacks are valid only during the call. */
#ifndef IMSDK_IMSDK_C_H_
#define IMSDK_IMSDK_C_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes of the synchronous calls (negative = error). */
#define IMSDK_OK 0
#define IMSDK_ERR_NOT_STARTED (-1)
#define IMSDK_ERR_BAD_ARGUMENT (-2)
#define IMSDK_ERR_STOPPED (-3)
#define IMSDK_ERR_STORE (-4)

/* Connection states reported by on_state. */
#define IMSDK_STATE_STOPPED 0
#define IMSDK_STATE_CONNECTING 1
#define IMSDK_STATE_ONLINE 2
#define IMSDK_STATE_AUTH_FAILED 3
#define IMSDK_STATE_NO_NETWORK 4

typedef struct IMSdkMessage {
  int64_t group_id; /* 0 = peer message */
  int64_t offset;
  int64_t from_uid;
  int64_t to_uid;
  int32_t timestamp;
  int32_t msgid;
  int32_t msg_type;
  int32_t msg_flag;
  int32_t len;
  const char* data; /* len bytes, not NUL terminated */
} IMSdkMessage;

typedef struct IMSdkCallbacks {
  void* user_data;
  /* A new message: exactly once, in offset order per sequence. */
  void (*on_message)(void* user_data, const IMSdkMessage* message);
  /* The outcome of a send (the 316 / 329 code, 408 when given up). */
  void (*on_send_result)(void* user_data, int64_t app_msg_id, int32_t msgid, int64_t to,
                         int is_group, int code, int64_t offset);
  /* Connection state change (IMSDK_STATE_*), with a code and reason on failure. */
  void (*on_state)(void* user_data, int state, int code, const char* desp);
  /* Log hooks: SDK log lines routed to the application. */
  void (*AppLogsDebug)(void* user_data, const char* line);
  void (*AppLogsInfo)(void* user_data, const char* line);
  void (*AppLogsWarn)(void* user_data, const char* line);
  void (*AppLogsError)(void* user_data, const char* line);
} IMSdkCallbacks;

typedef struct IMSdkConfig {
  const char* admin_url;   /* "http://host:port", or NULL */
  const char* notify_addr; /* "host:port" to bypass discovery, or NULL */
  const char* sync_addr;   /* "host:port" to bypass discovery, or NULL */
  const char* state_dir;   /* local store directory, NULL = in memory */
  int64_t device_id;       /* 0 = generated and kept in the store */
  int heartbeat_interval_ms;  /* 0 = default 30000 */
  int reconnect_initial_ms;   /* 0 = default 1000 */
  int reconnect_max_ms;       /* 0 = default 60000 */
} IMSdkConfig;

/* Creates the SDK instance (replacing none: IMSDK_ERR_BAD_ARGUMENT if one exists). */
int IMSdkInit(const IMSdkConfig* config, const IMSdkCallbacks* callbacks);
/* Stops and destroys the instance. Must not be called from a callback. */
void IMSdkDestroy(void);

/* mode: 0 none, 1 WIFI, 2 mobile. A change reconnects at once. */
void SetNetworkCurMode(int mode, const char* carrier);
/* The buffered config JSON (confgiinfo, confgiinfo_timestamp, im_account_info_array). */
int IMSdkSetBufferedServerNodeInfo(const char* json);
/* The current config JSON; free it with IMSdkFreeString. NULL if none. */
char* IMSdkGetServerNodeInfo(void);
void IMSdkFreeString(char* s);
/* Account for the next IMSdkStartup: no + password (token from admin_qim)… */
int IMSdkSetAccount(const char* no, const char* passwd);
/* …or uid + token. */
int IMSdkSetToken(int64_t uid, const char* token);
int IMSdkStartup(void);
/* Switch account: clean logout, new login; nothing of the old account is delivered after. */
int IMSdkChangeNo(const char* no, const char* passwd, int64_t uid);
/* Sends; return the client msgid (> 0) or a negative IMSDK_ERR_*. */
int32_t IMSendPeeerMsg(int64_t appmsgID, int64_t recvUID, int32_t msgType, int32_t msgLen,
                       const char* data);
int32_t IMSendPeeerMsgWithFlag(int64_t appmsgID, int64_t recvUID, int32_t msgType,
                               int32_t msgflag, int32_t msgLen, const char* data);
int32_t IMSendGroupMsg(int64_t appmsgID, int64_t groupID, int32_t msgType, int32_t msgLen,
                       const char* data);
void IMAckGroupOffset(int64_t groupid, int64_t offset);
/* Last delivered offset of a sequence (0 = peer). */
int64_t IMSdkGetOffset(int64_t groupid);
void IMSdkStop(void);

#ifdef __cplusplus
}
#endif

#endif /* IMSDK_IMSDK_C_H_ */
