#include "access_server/mysql_directory.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "common/log/log.h"

namespace im::access {
namespace {

// Runs `body(connection)` on a pooled connection, turning SQL errors into
// statuses and marking connections broken on connection-level errors.
template <typename Body>
auto WithConnection(db::MysqlPool& pool, Body body) -> decltype(body(std::declval<sql::Connection&>())) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    return body(**lease);
  } catch (const sql::SQLException& e) {
    if (db::IsConnectionError(e.getErrorCode())) lease->MarkBroken();
    IM_LOG_WARN(log::Db(), "directory query failed: {} (code {})", e.what(), e.getErrorCode());
    return absl::UnavailableError(std::string("mysql: ") + e.what());
  }
}

}  // namespace

MysqlDirectory::MysqlDirectory(db::MysqlOptions mysql, redis::RedisOptions redis, int cache_ms)
    : pool_(std::move(mysql)), redis_options_(std::move(redis)), cache_ttl_(cache_ms) {}

MysqlDirectory::~MysqlDirectory() { Stop(); }

void MysqlDirectory::Start() { poller_ = std::thread([this] { PollLoop(); }); }

void MysqlDirectory::Stop() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void MysqlDirectory::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  users_.clear();
  banned_.clear();
  blocked_.clear();
  friends_.clear();
  groups_.clear();
  user_groups_.clear();
}

void MysqlDirectory::PollLoop() {
  redis::RedisClient redis(redis_options_);
  std::string last_version;
  bool have_version = false;
  std::unique_lock<std::mutex> lock(poll_mu_);
  while (!stopping_) {
    lock.unlock();
    auto reply = redis.Run({"GET", kDirectoryVersionKey});
    if (reply.ok()) {
      const std::string version = reply->is_nil() ? "" : reply->str;
      if (have_version && version != last_version) {
        IM_LOG_DEBUG(log::Db(), "directory version {} -> {}: cache dropped", last_version, version);
        Invalidate();
      }
      last_version = version;
      have_version = true;
    } else if (have_version) {
      // Changes made while Redis is unreachable cannot be seen: drop the cache
      // when it comes back.
      have_version = false;
      Invalidate();
    }
    lock.lock();
    poll_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
  }
}

template <typename K, typename V, typename Load>
absl::StatusOr<V> MysqlDirectory::Cached(std::unordered_map<K, Entry<V>>& cache, const K& key, Load load) {
  std::uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache.find(key);
    if (it != cache.end() && it->second.expires > Clock::now()) return it->second.value;
    generation = generation_;
  }
  absl::StatusOr<V> loaded = load();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  // An invalidation while loading may mean the loaded value is already old.
  if (generation == generation_ && cache_ttl_.count() > 0) {
    cache[key] = Entry<V>{*loaded, Clock::now() + cache_ttl_};
  }
  return loaded;
}

absl::StatusOr<bool> MysqlDirectory::QueryExists(const std::string& query, std::int64_t a, std::int64_t b) {
  return WithConnection(pool_, [&](sql::Connection& c) -> absl::StatusOr<bool> {
    std::unique_ptr<sql::PreparedStatement> stmt(c.prepareStatement(query));
    stmt->setInt64(1, a);
    if (query.find('?') != query.rfind('?')) stmt->setInt64(2, b);
    std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery());
    return rows->next();
  });
}

absl::StatusOr<bool> MysqlDirectory::UserExists(std::int64_t uid) {
  return Cached(users_, uid, [&] { return QueryExists("SELECT 1 FROM user_id WHERE id = ?", uid, 0); });
}

absl::StatusOr<bool> MysqlDirectory::IsBanned(std::int64_t uid) {
  return Cached(banned_, uid, [&] { return QueryExists("SELECT 1 FROM bans WHERE uid = ?", uid, 0); });
}

absl::StatusOr<MysqlDirectory::UidSet> MysqlDirectory::ListOf(std::unordered_map<std::int64_t, Entry<UidSet>>& cache,
                                                              const std::string& sql, std::int64_t owner) {
  return Cached(cache, owner, [&] {
    return WithConnection(pool_, [&](sql::Connection& c) -> absl::StatusOr<UidSet> {
      std::unique_ptr<sql::PreparedStatement> stmt(c.prepareStatement(sql));
      stmt->setInt64(1, owner);
      std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery());
      auto uids = std::make_shared<std::unordered_set<std::int64_t>>();
      while (rows->next()) uids->insert(rows->getInt64(1));
      return UidSet(std::move(uids));
    });
  });
}

absl::StatusOr<bool> MysqlDirectory::IsBlocked(std::int64_t owner, std::int64_t sender) {
  auto blocked = ListOf(blocked_, "SELECT blocked_uid FROM blocks WHERE uid = ?", owner);
  if (!blocked.ok()) return blocked.status();
  return (*blocked)->count(sender) > 0;
}

absl::StatusOr<bool> MysqlDirectory::IsFriend(std::int64_t owner, std::int64_t other) {
  auto friends = ListOf(friends_, "SELECT friend_uid FROM friends WHERE uid = ?", owner);
  if (!friends.ok()) return friends.status();
  return (*friends)->count(other) > 0;
}

absl::StatusOr<std::shared_ptr<const GroupInfo>> MysqlDirectory::GetGroup(std::int64_t gid) {
  return Cached(groups_, gid, [&] {
    return WithConnection(pool_, [&](sql::Connection& c) -> absl::StatusOr<std::shared_ptr<const GroupInfo>> {
      std::unique_ptr<sql::PreparedStatement> group(c.prepareStatement("SELECT muted FROM im_groups WHERE gid = ?"));
      group->setInt64(1, gid);
      std::unique_ptr<sql::ResultSet> row(group->executeQuery());
      if (!row->next()) return std::shared_ptr<const GroupInfo>();
      auto info = std::make_shared<GroupInfo>();
      info->gid = gid;
      info->muted = row->getBoolean(1);
      std::unique_ptr<sql::PreparedStatement> members(
          c.prepareStatement("SELECT uid, muted FROM group_members WHERE gid = ?"));
      members->setInt64(1, gid);
      std::unique_ptr<sql::ResultSet> rows(members->executeQuery());
      while (rows->next()) {
        const std::int64_t uid = rows->getInt64(1);
        info->members.push_back(uid);
        info->member_set.insert(uid);
        if (rows->getBoolean(2)) info->muted_members.insert(uid);
      }
      return std::shared_ptr<const GroupInfo>(std::move(info));
    });
  });
}

absl::StatusOr<std::vector<std::int64_t>> MysqlDirectory::GroupsOfUser(std::int64_t uid) {
  return Cached(user_groups_, uid, [&] {
    return WithConnection(pool_, [&](sql::Connection& c) -> absl::StatusOr<std::vector<std::int64_t>> {
      std::unique_ptr<sql::PreparedStatement> stmt(
          c.prepareStatement("SELECT gid FROM group_members WHERE uid = ? ORDER BY gid"));
      stmt->setInt64(1, uid);
      std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery());
      std::vector<std::int64_t> gids;
      while (rows->next()) gids.push_back(rows->getInt64(1));
      return gids;
    });
  });
}

absl::Status MysqlDirectory::SaveAck(std::int64_t uid, std::int64_t gid, std::int64_t offset) {
  auto done = WithConnection(pool_, [&](sql::Connection& c) -> absl::StatusOr<bool> {
    std::unique_ptr<sql::PreparedStatement> stmt(c.prepareStatement(
        "INSERT INTO acked_offsets (uid, gid, `offset`) VALUES (?, ?, ?) "
        "ON DUPLICATE KEY UPDATE `offset` = GREATEST(`offset`, VALUES(`offset`))"));
    stmt->setInt64(1, uid);
    stmt->setInt64(2, gid);
    stmt->setInt64(3, offset);
    stmt->executeUpdate();
    return true;
  });
  return done.status();
}

absl::StatusOr<std::vector<std::pair<std::int64_t, std::int64_t>>> MysqlDirectory::GetAcks(std::int64_t uid) {
  return WithConnection(pool_,
                        [&](sql::Connection& c) -> absl::StatusOr<std::vector<std::pair<std::int64_t, std::int64_t>>> {
                          std::unique_ptr<sql::PreparedStatement> stmt(c.prepareStatement(
                              "SELECT gid, `offset` FROM acked_offsets WHERE uid = ? ORDER BY gid"));
                          stmt->setInt64(1, uid);
                          std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery());
                          std::vector<std::pair<std::int64_t, std::int64_t>> acks;
                          while (rows->next()) acks.emplace_back(rows->getInt64(1), rows->getInt64(2));
                          return acks;
                        });
}

}  // namespace im::access
