#!/usr/bin/env python3
"""Writes the tiny seed corpus of frame_fuzzer to corpus/frame/ (docs/protocol.md §1).

Bodies are hand-encoded protobuf (see the comments); rerun after changing them.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "frame")


def frame(imuid, cmdid, seq, body=b""):
    # uint16 body_len = 14 + len(body), int64 imuid, int16 cmdid, int32 seq; big-endian.
    return struct.pack(">HqhI", 14 + len(body), imuid, cmdid, seq & 0xFFFFFFFF) + body


SEEDS = {
    # 301 HEART_PING, UserMsgSyncInfo {SyncKey 7, OffSet 3}
    "ping": frame(707, 301, 1, bytes.fromhex("1007 1803")),
    # 300 LOGIN, ImLogin {token "tok", device_id 1, platform 2, client_version "1.0"}
    "login": frame(707, 300, 1, bytes.fromhex("0a03746f6b 1001 1802 2203312e30")),
    # 315 CLIENT_SEND_IM, ImClientSendMsg {head {}, fromUID 707, toUID 708, msgid 1,
    # len 2, content "hi"}
    "send": frame(707, 315, 2, bytes.fromhex("0a00 20c305 28c405 3801 4002 62026869")),
    # 317 SYNC_PULL {limit 100}, 340 GET_SYNC_OFFSETS (empty body), 319 ACK_OFFSET {offset 5}
    "stream": frame(707, 317, 3, bytes.fromhex("1864"))
    + frame(707, 340, 4)
    + frame(707, 319, 5, bytes.fromhex("1005")),
    # 328 downlink ImGroupSendMsgSync {offset 1, toGroupid 9001, content "g"}, then
    # 318 SYNC_PULL_RES {code 200, lastOffset 1, serverOffset 1}
    "downlink": frame(707, 328, 6, bytes.fromhex("0801 20a946 6201 67"))
    + frame(707, 318, 6, bytes.fromhex("08c801 1801 2001")),
    # 399 ERROR {code 400, desp "bad"}
    "error": frame(707, 399, 0, bytes.fromhex("089003 1203626164")),
    # 341 GET_SYNC_OFFSETS_RES {latest [{SyncKey 7, OffSet 3}]}
    "offsets": frame(707, 341, 7, bytes.fromhex("0a04 1007 1803")),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
