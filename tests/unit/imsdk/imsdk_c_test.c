/* The imsdk C ABI, compiled as C, against the fake cluster. Exit 0 = pass. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsdk/imsdk_c.h"
#include "tests/unit/imsdk/fake_c_api.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int g_state = -1;
static int g_messages = 0;
static char g_last_content[256];
static int64_t g_last_from = 0;
static int g_results = 0;
static int g_last_code = 0;
static int g_logs = 0;

static void OnMessage(void* user, const IMSdkMessage* m) {
  (void)user;
  pthread_mutex_lock(&mu);
  g_messages++;
  g_last_from = m->from_uid;
  int n = m->len < 255 ? m->len : 255;
  memcpy(g_last_content, m->data, (size_t)n);
  g_last_content[n] = '\0';
  pthread_mutex_unlock(&mu);
}

static void OnSendResult(void* user, int64_t app_msg_id, int32_t msgid, int64_t to, int is_group,
                         int code, int64_t offset) {
  (void)user; (void)app_msg_id; (void)msgid; (void)to; (void)is_group; (void)offset;
  pthread_mutex_lock(&mu);
  g_results++;
  g_last_code = code;
  pthread_mutex_unlock(&mu);
}

static void OnState(void* user, int state, int code, const char* desp) {
  (void)user; (void)code; (void)desp;
  pthread_mutex_lock(&mu);
  g_state = state;
  pthread_mutex_unlock(&mu);
}

static void OnLog(void* user, const char* line) {
  (void)user; (void)line;
  pthread_mutex_lock(&mu);
  g_logs++;
  pthread_mutex_unlock(&mu);
}

static int Get(int* v) {
  pthread_mutex_lock(&mu);
  int r = *v;
  pthread_mutex_unlock(&mu);
  return r;
}

/* Waits up to 5 s for *v == want (or >= want when at_least). */
static int WaitInt(int* v, int want, int at_least) {
  for (int i = 0; i < 1000; ++i) {
    int x = Get(v);
    if (x == want || (at_least && x >= want)) return 1;
    usleep(5000);
  }
  return 0;
}

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      IMSdkDestroy();                                                \
      FakeStop();                                                    \
      return 1;                                                      \
    }                                                                \
  } while (0)

int main(void) {
  int notify_port = 0, sync_port = 0;
  FakeStart(&notify_port, &sync_port);
  char notify[64], sync[64];
  snprintf(notify, sizeof notify, "127.0.0.1:%d", notify_port);
  snprintf(sync, sizeof sync, "127.0.0.1:%d", sync_port);

  CHECK(IMSdkStartup() == IMSDK_ERR_NOT_STARTED); /* before IMSdkInit */

  IMSdkConfig config;
  memset(&config, 0, sizeof config);
  config.notify_addr = notify;
  config.sync_addr = sync;
  config.reconnect_initial_ms = 50;
  config.reconnect_max_ms = 200;
  IMSdkCallbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.on_message = OnMessage;
  cb.on_send_result = OnSendResult;
  cb.on_state = OnState;
  cb.AppLogsDebug = OnLog;
  cb.AppLogsInfo = OnLog;
  cb.AppLogsWarn = OnLog;
  cb.AppLogsError = OnLog;
  CHECK(IMSdkInit(&config, &cb) == IMSDK_OK);
  CHECK(IMSdkInit(&config, &cb) == IMSDK_ERR_BAD_ARGUMENT); /* one instance */

  CHECK(IMSdkStartup() == IMSDK_ERR_BAD_ARGUMENT); /* no account yet */
  CHECK(IMSdkSetToken(708, "t708") == IMSDK_OK);
  CHECK(IMSdkStartup() == IMSDK_OK);
  CHECK(WaitInt(&g_state, IMSDK_STATE_ONLINE, 0));
  CHECK(Get(&g_logs) > 0); /* the log hooks receive SDK lines */

  FakeInjectPeer(707, 708, "hello from C");
  CHECK(WaitInt(&g_messages, 1, 1));
  pthread_mutex_lock(&mu);
  int content_ok = strcmp(g_last_content, "hello from C") == 0 && g_last_from == 707;
  pthread_mutex_unlock(&mu);
  CHECK(content_ok);
  CHECK(IMSdkGetOffset(0) == 1);

  const char* text = "reply";
  CHECK(IMSendPeeerMsg(1, 707, 0, (int32_t)strlen(text), text) > 0);
  CHECK(IMSendPeeerMsgWithFlag(2, 707, 0, 4, (int32_t)strlen(text), text) > 0);
  CHECK(IMSendPeeerMsg(3, 707, 0, 0, text) == IMSDK_ERR_BAD_ARGUMENT);
  CHECK(WaitInt(&g_results, 2, 0));
  CHECK(Get(&g_last_code) == 200);

  IMAckGroupOffset(0, 1);
  for (int i = 0; i < 1000 && FakeAcked(708, 0) != 1; ++i) usleep(5000);
  CHECK(FakeAcked(708, 0) == 1);

  const char* buffered =
      "{\"confgiinfo\":{\"node_array\":[]},\"confgiinfo_timestamp\":7,"
      "\"im_account_info_array\":[{\"no\":\"zxt77\",\"uid\":708}]}";
  CHECK(IMSdkSetBufferedServerNodeInfo("not json") == IMSDK_ERR_BAD_ARGUMENT);
  CHECK(IMSdkSetBufferedServerNodeInfo(buffered) == IMSDK_OK);
  char* info = IMSdkGetServerNodeInfo();
  CHECK(info != NULL && strstr(info, "zxt77") != NULL);
  IMSdkFreeString(info);

  int logins = FakeLogins();
  SetNetworkCurMode(2, "mobile");
  for (int i = 0; i < 200 && FakeLogins() < logins + 2; ++i) usleep(5000);
  CHECK(FakeLogins() >= logins + 2); /* reconnected within 1 s */
  CHECK(WaitInt(&g_state, IMSDK_STATE_ONLINE, 0));

  IMSdkStop();
  CHECK(WaitInt(&g_state, IMSDK_STATE_STOPPED, 0));
  IMSdkDestroy();
  CHECK(IMSdkStartup() == IMSDK_ERR_NOT_STARTED);
  FakeStop();
  printf("imsdk C ABI test passed\n");
  return 0;
}
