// access_server through its gRPC API, against real processes: admin_qim
// (schema, accounts, groups, friends, blocks, bans), two storage shards,
// Redis, MariaDB. No client TCP daemons: the sends and pulls here are what
// sync_server forwards.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <set>
#include <signal.h>

#include <map>
#include <thread>

#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"
#include "tests/support/local_cluster.h"

namespace im::access {
namespace {

using im::testing::LocalCluster;

class AccessServerTest : public ::testing::Test {
 protected:
  // Every test fails (instead of being skipped) when the cluster did not start.
  void SetUp() override { ASSERT_TRUE(setup_ok_) << "cluster set-up failed; see the first test's output"; }

  static void SetUpTestSuite() {
    cluster_ = new LocalCluster();
    im::testing::ClusterOptions options;
    options.storage_shards = 2;
    options.route_shards = 0;
    options.notify_servers = 0;
    options.sync_servers = 0;
    // access0 without a rate limit; access1 with a small one (RateLimited).
    options.access_servers = 2;
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0"};
    options.extra_flags["access1"] = {"--limits.rate_limit_per_s", "5", "--limits.rate_limit_burst", "10"};
    absl::Status s = cluster_->Start(options);
    ASSERT_TRUE(s.ok()) << s;
    stub_ = rpc::AccessService::NewStub(im::rpc::MakeChannel(cluster_->address("access0"))).release();
    for (const char* no : {"alice", "bob", "carol", "dave", "erin", "mallory", "banned"}) {
      auto uid = cluster_->CreateAccount(no);
      ASSERT_TRUE(uid.ok()) << uid.status();
      uids_[no] = *uid;
    }
    setup_ok_ = true;
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete cluster_;
  }

  static rpc::SendReply SendPeer(std::int64_t from, std::int64_t to, const std::string& content,
                                 std::int32_t msgid = 0, std::int32_t flag = 0, int len = -1,
                                 rpc::AccessService::Stub* stub = nullptr) {
    rpc::SendPeerMessageRequest request;
    auto* m = request.mutable_message();
    m->set_from_uid(from);
    m->set_to_uid(to);
    m->set_device_id(1);
    m->set_client_msgid(msgid);
    m->set_msg_type(1);
    m->set_msg_flag(flag);
    m->set_content(content);
    request.set_len(len < 0 ? static_cast<int>(content.size()) : len);
    grpc::ClientContext context;
    context.set_deadline(im::rpc::DeadlineAfter(10000));
    rpc::SendReply reply;
    grpc::Status status = (stub ? stub : stub_)->SendPeerMessage(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply;
  }

  static rpc::SendReply SendGroup(std::int64_t from, std::int64_t gid, const std::string& content,
                                  std::int32_t msgid = 0) {
    rpc::SendGroupMessageRequest request;
    auto* m = request.mutable_message();
    m->set_from_uid(from);
    m->set_gid(gid);
    m->set_device_id(1);
    m->set_client_msgid(msgid);
    m->set_content(content);
    request.set_len(static_cast<int>(content.size()));
    grpc::ClientContext context;
    context.set_deadline(im::rpc::DeadlineAfter(10000));
    rpc::SendReply reply;
    EXPECT_TRUE(stub_->SendGroupMessage(&context, request, &reply).ok());
    return reply;
  }

  static rpc::SyncReply Sync(std::int64_t uid, std::int64_t gid, std::int64_t after, int limit = 0) {
    rpc::SyncRequest request;
    request.set_uid(uid);
    request.set_gid(gid);
    request.set_after_offset(after);
    request.set_limit(limit);
    grpc::ClientContext context;
    context.set_deadline(im::rpc::DeadlineAfter(10000));
    rpc::SyncReply reply;
    grpc::Status status = gid == 0 ? stub_->SyncPeer(&context, request, &reply) : stub_->SyncGroup(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply;
  }

  static std::int64_t CreateGroup(std::int64_t owner, const std::vector<std::int64_t>& members) {
    std::string list;
    for (auto m : members) list += (list.empty() ? "" : ",") + std::to_string(m);
    auto body = cluster_->AdminPost("/v1/groups", "{\"name\":\"g\",\"owner\":" + std::to_string(owner) +
                                                      ",\"members\":[" + list + "]}");
    EXPECT_TRUE(body.ok()) << body.status();
    const auto at = body->find("\"gid\":");
    return std::atoll(body->c_str() + at + 6);
  }

  // Waits until a directory change reaches access_server (cache drop).
  static void AwaitDirectory() { std::this_thread::sleep_for(std::chrono::milliseconds(600)); }

  static inline bool setup_ok_ = false;
  static LocalCluster* cluster_;
  static rpc::AccessService::Stub* stub_;
  static std::map<std::string, std::int64_t> uids_;
};

LocalCluster* AccessServerTest::cluster_ = nullptr;
rpc::AccessService::Stub* AccessServerTest::stub_ = nullptr;
std::map<std::string, std::int64_t> AccessServerTest::uids_;

TEST_F(AccessServerTest, PeerSendStoresReceiverRecordAndSenderCopy) {
  const auto a = uids_["alice"], b = uids_["bob"];
  const auto before_b = Sync(b, 0, 0).server_offset();
  const auto before_a = Sync(a, 0, 0).server_offset();
  rpc::SendReply reply = SendPeer(a, b, "hello bob", 11);
  ASSERT_EQ(reply.code(), 200) << reply.desp();
  EXPECT_EQ(reply.offset(), before_a + 1);  // the sender copy's offset
  EXPECT_GT(reply.msgid(), 0);

  rpc::SyncReply inbox = Sync(b, 0, before_b);
  ASSERT_EQ(inbox.code(), 200);
  ASSERT_EQ(inbox.records_size(), 1);
  const auto& r = inbox.records(0);
  EXPECT_EQ(r.offset(), before_b + 1);
  EXPECT_EQ(r.payload().from_uid(), a);
  EXPECT_EQ(r.payload().to_uid(), b);
  EXPECT_EQ(r.payload().content(), "hello bob");
  EXPECT_EQ(r.payload().client_msgid(), 11);
  EXPECT_GT(r.payload().timestamp(), 0);  // server time when the client sent 0
  EXPECT_EQ(inbox.last_offset(), before_b + 1);
  EXPECT_EQ(inbox.server_offset(), before_b + 1);
  EXPECT_FALSE(inbox.has_more());

  rpc::SyncReply outbox = Sync(a, 0, before_a);
  ASSERT_EQ(outbox.records_size(), 1);
  EXPECT_EQ(outbox.records(0).offset(), reply.offset());
  EXPECT_EQ(outbox.records(0).msgid(), reply.msgid());
  EXPECT_EQ(outbox.records(0).payload().content(), "hello bob");
}

TEST_F(AccessServerTest, RetriedSendReturnsOriginalResultAndStoresOnce) {
  const auto a = uids_["alice"], c = uids_["carol"];
  const auto before = Sync(c, 0, 0).server_offset();
  rpc::SendReply first = SendPeer(a, c, "once", 4242);
  rpc::SendReply again = SendPeer(a, c, "once", 4242);
  ASSERT_EQ(first.code(), 200);
  ASSERT_EQ(again.code(), 200);
  EXPECT_EQ(again.offset(), first.offset());
  EXPECT_EQ(again.msgid(), first.msgid());
  EXPECT_EQ(Sync(c, 0, before).records_size(), 1);
}

// SendPeerMessages (what sync_server uses): each send is handled as a
// SendPeerMessage of its own, replies in request order, one bad send does not
// spoil the others, and a retried send in a batch is deduplicated.
TEST_F(AccessServerTest, BatchOfPeerSendsAnswersEachInOrder) {
  const auto a = uids_["alice"], e = uids_["erin"];
  const auto before = Sync(e, 0, 0).server_offset();
  rpc::SendPeerMessagesRequest request;
  auto add = [&](std::int64_t to, const std::string& content, std::int32_t msgid) {
    auto* send = request.add_sends();
    auto* m = send->mutable_message();
    m->set_from_uid(a);
    m->set_to_uid(to);
    m->set_device_id(1);
    m->set_client_msgid(msgid);
    m->set_msg_type(1);
    m->set_content(content);
    send->set_len(static_cast<int>(content.size()));
  };
  for (int i = 0; i < 20; ++i) add(e, "batch " + std::to_string(i), 7000 + i);
  add(a, "to myself", 7100);         // 400
  add(e, "batch 3", 7003);           // a retry of the fourth: deduplicated
  add(999999, "to nobody", 7101);    // 404
  rpc::SendPeerMessagesReply reply;
  {
    grpc::ClientContext context;
    context.set_deadline(im::rpc::DeadlineAfter(10000));
    grpc::Status status = stub_->SendPeerMessages(&context, request, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(reply.replies_size(), 23);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(reply.replies(i).code(), 200) << i << " " << reply.replies(i).desp();
  EXPECT_EQ(reply.replies(20).code(), 400);
  EXPECT_EQ(reply.replies(21).code(), 200);
  EXPECT_EQ(reply.replies(21).msgid(), reply.replies(3).msgid());
  EXPECT_EQ(reply.replies(22).code(), 404);
  // Erin's sequence holds each of the 20 once.
  rpc::SyncReply inbox = Sync(e, 0, before, 100);
  ASSERT_EQ(inbox.records_size(), 20);
  std::set<std::string> contents;
  for (const auto& r : inbox.records()) contents.insert(r.payload().content());
  EXPECT_EQ(contents.size(), 20u);

  // Too many sends in one call is refused as a whole.
  rpc::SendPeerMessagesRequest huge;
  for (int i = 0; i < 4097; ++i) *huge.add_sends() = request.sends(0);
  grpc::ClientContext context;
  context.set_deadline(im::rpc::DeadlineAfter(10000));
  rpc::SendPeerMessagesReply refused;
  EXPECT_EQ(stub_->SendPeerMessages(&context, huge, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AccessServerTest, BadSendsGetTheirCodesAndStoreNothing) {
  const auto a = uids_["alice"], d = uids_["dave"], m = uids_["mallory"];
  const auto before = Sync(d, 0, 0).server_offset();
  EXPECT_EQ(SendPeer(a, d, "abc", 0, 0, 5).code(), 400);          // len != content size
  EXPECT_EQ(SendPeer(a, d, "").code(), 400);                      // empty content
  EXPECT_EQ(SendPeer(a, d, std::string(65001, 'x')).code(), 400);  // too large
  EXPECT_EQ(SendPeer(a, a, "self").code(), 400);                  // bad toUID
  EXPECT_EQ(SendPeer(a, 999999, "who").code(), 404);             // unknown receiver
  EXPECT_EQ(SendPeer(a, d, "hi", 0, /*flag=*/1).code(), 201);      // friend verification, not friends

  ASSERT_TRUE(cluster_->AdminPost("/v1/friends", "{\"uid\":" + std::to_string(a) + ",\"friend\":" +
                                                     std::to_string(d) + "}").ok());
  ASSERT_TRUE(cluster_->AdminPost("/v1/blocks", "{\"uid\":" + std::to_string(d) + ",\"blocked\":" +
                                                    std::to_string(m) + "}").ok());
  AwaitDirectory();
  EXPECT_EQ(SendPeer(a, d, "friends now", 0, 1).code(), 200);
  EXPECT_EQ(SendPeer(m, d, "let me in").code(), 403);  // blocked
  EXPECT_EQ(Sync(d, 0, before).records_size(), 1);     // only the friend's message

  const auto banned = uids_["banned"];
  EXPECT_EQ(SendPeer(banned, d, "before the ban").code(), 200);
  ASSERT_TRUE(cluster_->AdminPost("/v1/bans", "{\"uid\":" + std::to_string(banned) + "}").ok());
  AwaitDirectory();
  EXPECT_EQ(SendPeer(banned, d, "after the ban").code(), 403);
}

TEST_F(AccessServerTest, GroupSendAppendsOnceAndChecksMembership) {
  const auto a = uids_["alice"], b = uids_["bob"], c = uids_["carol"], m = uids_["mallory"];
  const std::int64_t gid = CreateGroup(a, {a, b, c});
  ASSERT_GT(gid, 0);
  AwaitDirectory();
  const std::int64_t c_peer_before = Sync(c, 0, 0).server_offset();
  rpc::SendReply first = SendGroup(b, gid, "hi group", 1);
  ASSERT_EQ(first.code(), 200) << first.desp();
  EXPECT_EQ(first.offset(), 1);
  EXPECT_EQ(SendGroup(c, gid, "second").offset(), 2);
  EXPECT_EQ(SendGroup(m, gid, "intruder").code(), 403);
  EXPECT_EQ(SendGroup(a, 123456789, "nowhere").code(), 404);

  rpc::SyncReply pulled = Sync(a, gid, 0);
  ASSERT_EQ(pulled.code(), 200);
  ASSERT_EQ(pulled.records_size(), 2);
  EXPECT_EQ(pulled.records(0).payload().content(), "hi group");
  EXPECT_EQ(pulled.records(0).payload().from_uid(), b);
  EXPECT_EQ(pulled.records(1).offset(), 2);
  EXPECT_EQ(Sync(m, gid, 0).code(), 403);
  EXPECT_EQ(Sync(a, 123456789, 0).code(), 404);
  // Nothing was copied into the members' peer sequences.
  EXPECT_EQ(Sync(c, 0, 0).server_offset(), c_peer_before);
}

TEST_F(AccessServerTest, PullPaginatesAndReportsHasMore) {
  const auto a = uids_["alice"], b = uids_["bob"];
  const auto start = Sync(b, 0, 0).server_offset();
  for (int i = 0; i < 7; ++i) ASSERT_EQ(SendPeer(a, b, "page " + std::to_string(i)).code(), 200);
  rpc::SyncReply page = Sync(b, 0, start, 3);
  ASSERT_EQ(page.records_size(), 3);
  EXPECT_TRUE(page.has_more());
  EXPECT_EQ(page.last_offset(), start + 3);
  EXPECT_EQ(page.server_offset(), start + 7);
  page = Sync(b, 0, page.last_offset(), 100);
  ASSERT_EQ(page.records_size(), 4);
  EXPECT_FALSE(page.has_more());
  EXPECT_EQ(page.records(3).payload().content(), "page 6");
  EXPECT_EQ(Sync(b, 0, -1).code(), 400);
}

TEST_F(AccessServerTest, PullsSurviveFlushedAndStoppedRedis) {
  const auto a = uids_["alice"], c = uids_["carol"];
  const auto start = Sync(c, 0, 0).server_offset();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(SendPeer(a, c, "r" + std::to_string(i)).code(), 200);
  ASSERT_EQ(im::testing::RunCommand({"redis-cli", "-p", std::to_string(cluster_->redis().port()), "FLUSHALL"}), 0);
  rpc::SyncReply after_flush = Sync(c, 0, start);
  ASSERT_EQ(after_flush.records_size(), 5);
  EXPECT_EQ(after_flush.records(4).payload().content(), "r4");

  cluster_->redis().Pause();  // a hung Redis: calls time out
  rpc::SendReply sent = SendPeer(a, c, "while redis hangs");
  EXPECT_EQ(sent.code(), 200);
  rpc::SyncReply during = Sync(c, 0, start);
  cluster_->redis().Resume();
  EXPECT_EQ(during.records_size(), 6);
}

TEST_F(AccessServerTest, ConcurrentSendersKeepPerSenderOrderWithContinuousOffsets) {
  const auto receiver = uids_["dave"];
  const std::vector<std::int64_t> senders = {uids_["alice"], uids_["bob"], uids_["carol"], uids_["erin"]};
  const auto start = Sync(receiver, 0, 0).server_offset();
  constexpr int kPerSender = 250;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (std::size_t s = 0; s < senders.size(); ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i) {
        if (SendPeer(senders[s], receiver, std::to_string(s) + ":" + std::to_string(i), 100000 + i).code() != 200) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::map<std::int64_t, int> next_index;
  std::int64_t expect = start + 1;
  std::int64_t after = start;
  int total = 0;
  while (true) {
    rpc::SyncReply page = Sync(receiver, 0, after, 500);
    for (const auto& r : page.records()) {
      EXPECT_EQ(r.offset(), expect++);
      const std::string& content = r.payload().content();
      const int index = std::stoi(content.substr(content.find(':') + 1));
      EXPECT_EQ(index, next_index[r.payload().from_uid()]++) << "sender " << r.payload().from_uid();
      ++total;
    }
    after = page.last_offset();
    if (!page.has_more()) break;
  }
  EXPECT_EQ(total, 4 * kPerSender);
}

TEST_F(AccessServerTest, SyncOffsetsAndAcks) {
  const auto a = uids_["alice"], b = uids_["bob"];
  ASSERT_EQ(SendPeer(a, b, "to ack").code(), 200);
  const auto newest = Sync(b, 0, 0).server_offset();
  {
    grpc::ClientContext context;
    rpc::AckOffsetRequest ack;
    ack.set_uid(b);
    ack.set_offset(newest + 100);  // clamped to the newest offset
    rpc::AckOffsetReply reply;
    ASSERT_TRUE(stub_->AckOffset(&context, ack, &reply).ok());
  }
  grpc::ClientContext context;
  rpc::GetSyncOffsetsRequest request;
  request.set_uid(b);
  rpc::GetSyncOffsetsReply offsets;
  ASSERT_TRUE(stub_->GetSyncOffsets(&context, request, &offsets).ok());
  ASSERT_GE(offsets.latest_size(), 1);
  EXPECT_EQ(offsets.latest(0).gid(), 0);
  EXPECT_EQ(offsets.latest(0).offset(), newest);
  ASSERT_EQ(offsets.acked_size(), 1);
  EXPECT_EQ(offsets.acked(0).offset(), newest);

  grpc::ClientContext info_context;
  rpc::GetSyncInfoRequest info_request;
  info_request.add_uids(b);
  info_request.add_uids(a);
  rpc::GetSyncInfoReply info;
  ASSERT_TRUE(stub_->GetSyncInfo(&info_context, info_request, &info).ok());
  ASSERT_EQ(info.peer_size(), 2);
  EXPECT_EQ(info.peer(0).offset(), newest);

  // The requests are counted by method and code on /metrics.
  std::string metrics;
  im::testing::RunCommand({"curl", "-s", "http://127.0.0.1:" + std::to_string(cluster_->admin_port("access0")) + "/metrics"},
                          &metrics);
  EXPECT_NE(metrics.find("im_access_requests_total{code=\"200\",method=\"SendPeerMessage\"}"), std::string::npos)
      << metrics;
}

TEST_F(AccessServerTest, StorageShardDownAnswers503OnlyForItsUsersAndRecovers) {
  // Two storage shards, sequence id % 2. Pick users by shard.
  std::vector<std::int64_t> even, odd;
  for (const auto& [no, uid] : uids_) {
    if (no == "banned") continue;
    (uid % 2 == 0 ? even : odd).push_back(uid);
  }
  ASSERT_GE(even.size(), 2u);
  ASSERT_GE(odd.size(), 2u);
  cluster_->Kill("storage0");  // owns the even uids
  // Between two users of shard 1 (both appends there): unaffected.
  EXPECT_EQ(SendPeer(odd[0], odd[1], "shard 1 still up").code(), 200);
  // Anything touching shard 0: 503, retried later with the same msgid.
  EXPECT_EQ(SendPeer(odd[0], even[0], "into the void", 777).code(), 503);
  EXPECT_EQ(Sync(even[0], 0, 0).code(), 503);
  EXPECT_EQ(Sync(odd[0], 0, 0).code(), 200);
  ASSERT_TRUE(cluster_->Restart("storage0").ok());
  int code = 0;
  for (int i = 0; i < 50 && code != 200; ++i) {
    code = SendPeer(odd[0], even[0], "into the void", 777).code();
    if (code != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(code, 200);
  // The sender copy (shard 1) was appended before the failure was noticed or
  // by the retry: either way exactly once, thanks to the idempotency key.
  int copies = 0;
  const rpc::SyncReply outbox = Sync(odd[0], 0, 0, 500);
  for (const auto& r : outbox.records()) {
    if (r.payload().client_msgid() == 777 && r.payload().to_uid() == even[0]) ++copies;
  }
  EXPECT_EQ(copies, 1);
}

TEST_F(AccessServerTest, MutedGroupAndMutedMemberAreRefused) {
  const auto a = uids_["alice"], b = uids_["bob"];
  const std::int64_t gid = CreateGroup(a, {a, b});
  AwaitDirectory();
  auto qim = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {im::testing::BinaryPath("qim"), "--endpoint",
                               "127.0.0.1:" + std::to_string(cluster_->admin_grpc_port()), "--secret",
                               "test-admin-secret"});
    std::string out;
    EXPECT_EQ(im::testing::RunCommand(args, &out), 0) << out;
  };
  EXPECT_EQ(SendGroup(b, gid, "before").code(), 200);
  qim({"group", "mute", std::to_string(gid), "--uid", std::to_string(b)});
  AwaitDirectory();
  EXPECT_EQ(SendGroup(b, gid, "muted member").code(), 403);
  EXPECT_EQ(SendGroup(a, gid, "others may").code(), 200);
  qim({"group", "mute", std::to_string(gid)});
  AwaitDirectory();
  EXPECT_EQ(SendGroup(a, gid, "muted group").code(), 403);
  qim({"group", "mute", std::to_string(gid), "--off"});
  qim({"group", "mute", std::to_string(gid), "--uid", std::to_string(b), "--off"});
  AwaitDirectory();
  EXPECT_EQ(SendGroup(b, gid, "after").code(), 200);
  EXPECT_EQ(Sync(a, gid, 0).records_size(), 3);  // refused sends stored nothing
}

TEST_F(AccessServerTest, RateLimitAnswers429AndStoresNothing) {
  auto limited = rpc::AccessService::NewStub(im::rpc::MakeChannel(cluster_->address("access1")));
  const auto a = uids_["erin"], c = uids_["carol"];
  const auto before = Sync(c, 0, 0).server_offset();
  int ok = 0, limited_count = 0;
  for (int i = 0; i < 30; ++i) {
    const int code = SendPeer(a, c, "burst " + std::to_string(i), 0, 0, -1, limited.get()).code();
    if (code == 200) ++ok;
    if (code == 429) ++limited_count;
  }
  EXPECT_GE(ok, 10);  // the burst
  EXPECT_GT(limited_count, 0);
  EXPECT_EQ(ok + limited_count, 30);
  EXPECT_EQ(Sync(c, 0, before).records_size(), ok);
}

}  // namespace
}  // namespace im::access
