/* A C-callable wrapper of the fake cluster, for the C ABI test. */
#ifndef TESTS_UNIT_IMSDK_FAKE_C_API_H_
#define TESTS_UNIT_IMSDK_FAKE_C_API_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts a fake notify + sync node with users 707 ("t707") and 708 ("t708"). */
void FakeStart(int* notify_port, int* sync_port);
/* Stores a peer message from `from` to `to` and pushes it. */
void FakeInjectPeer(int64_t from, int64_t to, const char* content);
int FakeLogins(void);
int64_t FakeAcked(int64_t uid, int64_t gid);
void FakeStop(void);

#ifdef __cplusplus
}
#endif

#endif
