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
notify_port="${IM_NOTIFY_PORT:-21983}"
sync_port="${IM_SYNC_PORT:-31983}"
access_port="${IM_ACCESS_PORT:-50051}"
storage_port="${IM_STORAGE_PORT:-50061}"
route_port="${IM_ROUTE_PORT:-50071}"
admin_http_port="${IM_ADMIN_HTTP_PORT:-8080}"
admin_grpc_port="${IM_ADMIN_GRPC_PORT:-50081}"

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

admin_secret() {
  if [ ! -s "$state/admin_secret" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/admin_secret"
  fi
  cat "$state/admin_secret"
}

# name  binary  admin-port  main-port  flags...
start_daemon() {
  local name=$1 binary=$2 admin_port=$3 main_port=$4
  shift 4
  local pidfile="$state/run/$name.pid"
  if pid_alive "$pidfile"; then log "$name already running"; return; fi
  if [ ! -x "$build_dir/$binary/$binary" ]; then log "$name is not part of this build: skipped"; return; fi
  mkdir -p "$state/run" "$state/logs"
  nohup "$build_dir/$binary/$binary" "$@" --admin.listen "127.0.0.1:$admin_port" \
    >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 300); do
    if curl -fs -o /dev/null "http://127.0.0.1:$admin_port/healthz"; then
      log "$name serving on 127.0.0.1:$main_port (metrics http://127.0.0.1:$admin_port/metrics)"
      return
    fi
    pid_alive "$pidfile" || break
    sleep 0.1
  done
  log "$name did not start; last lines of $state/logs/$name.log:"
  tail -n 20 "$state/logs/$name.log" >&2
  exit 1
}

admin_http() {  # method path [json]
  curl -s -X "$1" -H "Authorization: Bearer $(admin_secret)" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "http://127.0.0.1:$admin_http_port$2"
}

qim() { "$build_dir/admin_qim/qim" --endpoint "127.0.0.1:$admin_grpc_port" --secret "$(admin_secret)" "$@"; }

start_daemons() {
  local cfg="$root/deploy/config" secret
  secret=$(admin_secret)
  local mysql=(--mysql.host 127.0.0.1 --mysql.port "$mysql_port" --mysql.user "$mysql_user"
               --mysql.password "$mysql_password" --mysql.database "$mysql_db")
  local redis=(--redis.host 127.0.0.1 --redis.port "$redis_port")
  start_daemon admin_qim admin_qim 9081 "$admin_http_port" --config "$cfg/admin_qim.toml" \
    --http.listen "127.0.0.1:$admin_http_port" --grpc.listen "127.0.0.1:$admin_grpc_port" \
    --auth.admin_secret "$secret" "${mysql[@]}" "${redis[@]}" \
    --access.address "127.0.0.1:$access_port" --route.addresses "127.0.0.1:$route_port"
  start_daemon storage_server storage_server 9061 "$storage_port" --config "$cfg/storage_server.toml" \
    --server.listen "127.0.0.1:$storage_port" --storage.data_dir "$state/storage0"
  start_daemon route_server route_server 9071 "$route_port" --config "$cfg/route_server.toml" \
    --server.listen "127.0.0.1:$route_port"
  start_daemon access_server access_server 9051 "$access_port" --config "$cfg/access_server.toml" \
    --server.listen "127.0.0.1:$access_port" --storage.addresses "127.0.0.1:$storage_port" \
    --route.addresses "127.0.0.1:$route_port" "${mysql[@]}" "${redis[@]}"
  start_daemon notify_server notify_server 9083 "$notify_port" --config "$cfg/notify_server.toml" \
    --server.listen "127.0.0.1:$notify_port" --access.address "127.0.0.1:$access_port" \
    --route.addresses "127.0.0.1:$route_port" "${redis[@]}"
  start_daemon sync_server sync_server 9031 "$sync_port" --config "$cfg/sync_server.toml" \
    --server.listen "127.0.0.1:$sync_port" --access.addresses "127.0.0.1:$access_port" "${redis[@]}"
}

register_nodes_and_demo_accounts() {
  # node_list: what SDKs get from GET /v1/nodes. Added once.
  if ! qim node list 2>/dev/null | grep -q ":$notify_port\b\|\b$notify_port\b"; then
    qim node add --address 127.0.0.1 --tcp-port "$notify_port" --type notify --admin 127.0.0.1:9083 >/dev/null
  fi
  if ! qim node list 2>/dev/null | grep -q "\b$sync_port\b"; then
    qim node add --address 127.0.0.1 --tcp-port "$sync_port" --type sync --admin 127.0.0.1:9031 >/dev/null
  fi
  for who in demo1 demo2; do
    admin_http POST /v1/accounts "{\"no\":\"$who\",\"password\":\"${who}pass\"}" >/dev/null
  done
  log "demo accounts: demo1 / demo1pass, demo2 / demo2pass"
}

write_cluster_json() {
  cat >"$state/cluster.json" <<JSON
{
  "state_dir": "$state",
  "notify": ["127.0.0.1:$notify_port"],
  "sync": ["127.0.0.1:$sync_port"],
  "access": "127.0.0.1:$access_port",
  "storage": ["127.0.0.1:$storage_port"],
  "route": ["127.0.0.1:$route_port"],
  "admin_http": "127.0.0.1:$admin_http_port",
  "admin_grpc": "127.0.0.1:$admin_grpc_port",
  "admin_secret": "$(admin_secret)",
  "redis": "127.0.0.1:$redis_port",
  "mysql": "127.0.0.1:$mysql_port",
  "mysql_user": "$mysql_user",
  "mysql_password": "$mysql_password",
  "mysql_database": "$mysql_db"
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
  start_daemons
  register_nodes_and_demo_accounts
  write_cluster_json
  log "endpoints written to $state/cluster.json"
  cat <<TXT

The cluster is up. Chat in two terminals:
  $build_dir/imsdk/imcli --admin http://127.0.0.1:$admin_http_port --no demo1 --password demo1pass
  $build_dir/imsdk/imcli --admin http://127.0.0.1:$admin_http_port --no demo2 --password demo2pass
then type "/to <uid> hello" (each imcli prints its uid at login).
Operators: $build_dir/admin_qim/qim --endpoint 127.0.0.1:$admin_grpc_port --secret \$(cat $state/admin_secret) stats
Stop everything: deploy/cluster.sh stop
TXT
}

DAEMONS_REVERSED=(sync_server notify_server access_server route_server storage_server admin_qim)

cmd_stop() {
  for name in "${DAEMONS_REVERSED[@]}"; do
    local pidfile="$state/run/$name.pid"
    if pid_alive "$pidfile"; then
      kill -TERM "$(cat "$pidfile")"
      for _ in $(seq 100); do pid_alive "$pidfile" || break; sleep 0.1; done
      pid_alive "$pidfile" && kill -KILL "$(cat "$pidfile")"
      log "$name stopped"
    fi
    rm -f "$pidfile"
  done
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
  if pid_alive "$state/redis/redis.pid"; then echo "redis           running  127.0.0.1:$redis_port"; else echo "redis           stopped"; rc=1; fi
  if pid_alive "$state/mariadb/mariadbd.pid"; then echo "mariadb         running  127.0.0.1:$mysql_port"; else echo "mariadb         stopped"; rc=1; fi
  for name in admin_qim storage_server route_server access_server notify_server sync_server; do
    if pid_alive "$state/run/$name.pid"; then
      printf '%-15s running  pid %s\n' "$name" "$(cat "$state/run/$name.pid")"
    else
      printf '%-15s stopped\n' "$name"; rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  stop|down) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|status|stop" >&2; exit 2 ;;
esac
