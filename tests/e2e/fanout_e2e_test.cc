// Group fan-out at scale: a group of 10,000 members, 2,000 of them online on
// notify_server; 20 messages, each of which must reach all 2,000 online
// members. Prints the sender's answer time (329) and the fan-out time (send
// until the last of the 2,000 pushes arrived), p50 and p99: measured, not
// asserted.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <map>
#include <cstdio>
#include <thread>

#include "common/auth/token_store.h"
#include "proto/im_client.pb.h"
#include "tests/support/local_cluster.h"
#include "tests/support/raw_client.h"

namespace im {
namespace {

using testing::RawClient;

constexpr int kMembers = 10000;
constexpr int kOnline = 2000;
constexpr int kMessages = 20;

std::string Metrics(int admin_port) {
  std::string out;
  testing::RunCommand({"curl", "-s", "http://127.0.0.1:" + std::to_string(admin_port) + "/metrics"}, &out);
  std::string lines;
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    if (out[pos] != '#') lines += out.substr(pos, nl - pos + 1);
    pos = nl + 1;
  }
  return lines;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

TEST(FanoutE2eTest, GroupOfTenThousandReachesTwoThousandOnline) {
  testing::LocalCluster cluster;
  testing::ClusterOptions options;
  options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0"};
  ASSERT_TRUE(cluster.Start(options).ok());

  // Accounts and the group straight into admin_qim's schema: 10,000 HTTP
  // registrations with password hashing would take minutes.
  std::string values;
  for (int i = 0; i < kMembers; ++i) values += (i ? ",('fan" : "('fan") + std::to_string(i) + "')";
  auto first = cluster.mysql().Query("INSERT INTO im.user_id (no) VALUES " + values +
                                     "; SELECT MIN(id) FROM im.user_id WHERE no LIKE 'fan%';");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::int64_t first_uid = std::atoll(first->c_str());
  auto group = cluster.mysql().Query(
      "INSERT INTO im.im_groups (name, owner, created_at) VALUES ('big', " + std::to_string(first_uid) +
      ", UNIX_TIMESTAMP()); SELECT LAST_INSERT_ID();");
  ASSERT_TRUE(group.ok()) << group.status();
  const std::int64_t gid = std::atoll(group->c_str());
  // In chunks: one command-line argument of the mariadb client is capped at 128 KiB.
  for (int start = 0; start < kMembers; start += 2000) {
    std::string members;
    for (int i = start; i < std::min(kMembers, start + 2000); ++i) {
      members += (i > start ? ",(" : "(") + std::to_string(gid) + "," + std::to_string(first_uid + i) +
                 ",UNIX_TIMESTAMP(),0)";
    }
    auto inserted = cluster.mysql().Query("INSERT INTO im.group_members (gid, uid, joined_at, muted) VALUES " + members);
    ASSERT_TRUE(inserted.ok()) << inserted.status();
  }

  redis::RedisOptions redis_options;
  redis_options.port = cluster.redis().port();
  redis::RedisClient redis(redis_options);
  auth::TokenStore tokens(&redis);

  // kOnline members log in to notify_server; the first member sends.
  std::vector<std::unique_ptr<RawClient>> online;
  for (int i = 0; i < kOnline; ++i) {
    const std::int64_t uid = first_uid + i;
    auto token = tokens.Issue(uid, 3600);
    ASSERT_TRUE(token.ok());
    auto c = std::make_unique<RawClient>();
    ASSERT_TRUE(c->Connect(cluster.notify_port()));
    ASSERT_EQ(c->Login(uid, *token, 1), 200) << "member " << i;
    online.push_back(std::move(c));
  }
  auto sender_token = tokens.Issue(first_uid, 3600);
  RawClient sender;
  ASSERT_TRUE(sender.Connect(cluster.sync_port()));
  ASSERT_EQ(sender.Login(first_uid, *sender_token, 2), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // presence reaches route_server

  std::vector<double> answer_ms, fanout_ms;
  for (int m = 1; m <= kMessages; ++m) {
    client::ImGroupSendMsg msg;
    msg.set_fromuid(first_uid);
    msg.set_togroupid(gid);
    msg.set_msgid(m);
    const std::string content = "fan-out " + std::to_string(m);
    msg.set_len(static_cast<std::int32_t>(content.size()));
    msg.set_content(content);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(sender.Send(first_uid, client::IM_CMD_GROUP_SEND_IM, sender.NextSeq(), msg));
    auto res = sender.WaitFor(client::IM_CMD_GROUP_SEND_IM_RES, std::chrono::seconds(10));
    ASSERT_TRUE(res.has_value());
    ASSERT_EQ(res->As<client::ImGroupSendMsgRes>().code(), 200);
    const std::int64_t offset = res->As<client::ImGroupSendMsgRes>().offset();
    answer_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());

    // Every online member (the sender's own device is on sync_server, so all
    // kOnline notify devices are addressed) must get this offset.
    std::vector<char> got(online.size(), 0);
    std::map<int, int> seen;  // frames by command, for the failure message
    std::size_t missing = online.size();
    const auto deadline = t0 + std::chrono::seconds(20);
    while (missing > 0 && std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < online.size(); ++i) {
        if (!got[i]) {
          fds.push_back({online[i]->fd(), POLLIN, 0});
          index.push_back(i);
        }
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (!(fds[k].revents & POLLIN)) continue;
        RawClient& c = *online[index[k]];
        while (auto f = c.Read(std::chrono::milliseconds(0))) {
          ++seen[f->header.cmdid];
          if (f->header.cmdid == client::IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA &&
              f->As<client::ImGroupSyncNotifyWithData>().offset() == offset && !got[index[k]]) {
            got[index[k]] = 1;
            --missing;
            break;
          }
        }
      }
    }
    ASSERT_EQ(missing, 0u) << "message " << m << ": " << missing << " online members got no push; frames seen:" << [&] {
      std::string text;
      for (auto [cmd, n] : seen) text += " " + std::to_string(cmd) + "x" + std::to_string(n);
      return text;
    }() << "\n"
                           << Metrics(cluster.admin_port("route0")) << Metrics(cluster.admin_port("notify0"))
                           << Metrics(cluster.admin_port("access0"));
    fanout_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("fan-out, group of %d with %d online, %d messages: answer (329) p50 %.1f ms p99 %.1f ms; "
              "all %d pushes received p50 %.1f ms p99 %.1f ms\n",
              kMembers, kOnline, kMessages, Percentile(answer_ms, 0.5), Percentile(answer_ms, 0.99), kOnline,
              Percentile(fanout_ms, 0.5), Percentile(fanout_ms, 0.99));
}

}  // namespace
}  // namespace im
