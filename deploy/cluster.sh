#!/usr/bin/env bash
# A whole local cluster on loopback, for trying the project out:
#
#   deploy/cluster.sh up       install deps if missing, build, start everything
#   deploy/cluster.sh status   show each component
#   deploy/cluster.sh stop     stop everything `up` started (by pid)
#
# State (data dirs, logs, pids, cluster.json) lives in $IM_STATE_DIR, by
# default .cluster/ in the repository. Nothing uses system services: Redis
# and MariaDB run privately from the state dir. `up` twice is safe.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${IM_STATE_DIR:-$root/.cluster}"
build_dir="${IM_BUILD_DIR:-$root/build}"
redis_port="${IM_REDIS_PORT:-26379}"
mysql_port="${IM_MYSQL_PORT:-23306}"
mysql_user=im
mysql_password=impass
mysql_db=im

log() { echo "cluster: $*"; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_redis() {
  if pid_alive "$state/redis/redis.pid"; then log "redis already running on 127.0.0.1:$redis_port"; return; fi
  mkdir -p "$state/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" \
    --appendonly yes --daemonize yes --pidfile "$state/redis/redis.pid" \
    --logfile "$state/redis/redis.log" >/dev/null
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  log "redis on 127.0.0.1:$redis_port"
}

mariadb_admin() { mariadb-admin --no-defaults --socket="$state/mariadb/mysqld.sock" -uroot "$@"; }

start_mariadb() {
  local dir="$state/mariadb"
  if pid_alive "$dir/mariadbd.pid"; then log "mariadb already running on 127.0.0.1:$mysql_port"; return; fi
  mkdir -p "$dir"
  local user_args=()
  [ "$(id -u)" -eq 0 ] && user_args=(--user=root)
  local fresh=0
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults "${user_args[@]}" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1
    fresh=1
  fi
  nohup mariadbd --no-defaults "${user_args[@]}" --datadir="$dir/data" --socket="$dir/mysqld.sock" \
    --port="$mysql_port" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/err.log" --innodb-buffer-pool-size=128M >/dev/null 2>&1 &
  for _ in $(seq 300); do mariadb_admin ping >/dev/null 2>&1 && break; sleep 0.1; done
  mariadb_admin ping >/dev/null || { log "mariadb did not start; see $dir/err.log"; exit 1; }
  if [ "$fresh" = 1 ]; then
    mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e "
      CREATE DATABASE IF NOT EXISTS $mysql_db CHARACTER SET utf8mb4;
      CREATE USER IF NOT EXISTS '$mysql_user'@'localhost' IDENTIFIED BY '$mysql_password';
      CREATE USER IF NOT EXISTS '$mysql_user'@'127.0.0.1' IDENTIFIED BY '$mysql_password';
      GRANT ALL ON $mysql_db.* TO '$mysql_user'@'localhost';
      GRANT ALL ON $mysql_db.* TO '$mysql_user'@'127.0.0.1';"
  fi
  log "mariadb on 127.0.0.1:$mysql_port (database $mysql_db, user $mysql_user)"
}

write_cluster_json() {
  cat >"$state/cluster.json" <<JSON
{
  "state_dir": "$state",
  "redis": "127.0.0.1:$redis_port",
  "mysql": "127.0.0.1:$mysql_port",
  "mysql_user": "$mysql_user",
  "mysql_password": "$mysql_password",
  "mysql_database": "$mysql_db",
  "notify": [],
  "sync": [],
  "access": "",
  "admin_http": "",
  "admin_secret": ""
}
JSON
}

cmd_up() {
  bash "$root/deploy/install-deps.sh"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir"
  mkdir -p "$state"
  start_redis
  start_mariadb
  write_cluster_json
  log "endpoints written to $state/cluster.json"
  log "the message daemons are not part of the tree yet; Redis and MariaDB are up"
}

cmd_stop() {
  if pid_alive "$state/mariadb/mariadbd.pid"; then
    mariadb_admin shutdown 2>/dev/null || kill "$(cat "$state/mariadb/mariadbd.pid")"
    for _ in $(seq 100); do pid_alive "$state/mariadb/mariadbd.pid" || break; sleep 0.1; done
    log "mariadb stopped"
  fi
  if pid_alive "$state/redis/redis.pid"; then
    kill "$(cat "$state/redis/redis.pid")"
    for _ in $(seq 50); do pid_alive "$state/redis/redis.pid" || break; sleep 0.1; done
    log "redis stopped"
  fi
}

cmd_status() {
  local rc=0
  if pid_alive "$state/redis/redis.pid"; then echo "redis    running  127.0.0.1:$redis_port"; else echo "redis    stopped"; rc=1; fi
  if pid_alive "$state/mariadb/mariadbd.pid"; then echo "mariadb  running  127.0.0.1:$mysql_port"; else echo "mariadb  stopped"; rc=1; fi
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  stop|down) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|status|stop" >&2; exit 2 ;;
esac
