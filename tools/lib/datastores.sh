# Start and stop a private PostgreSQL and Redis in a folder, on loopback ports.
# Sourced by tools/up (persistent data) and tools/testenv (throwaway data).
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user; the
# folder's parents must be traversable by that user (not /root, not a mktemp -d).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

free_port() {
  local p
  for _ in $(seq 1 200); do
    # Below the kernel's ephemeral range (32768-60999): no outgoing connection takes it.
    p=$(( (RANDOM * 32768 + RANDOM) % 12000 + 20000 ))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR PORT: initialises DIR/pg on first use, then starts it. PG_EXTRA_OPTS adds
# server options for a profiling run, e.g. "-c shared_preload_libraries=pg_stat_statements".
pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  if ! as_pg test -x "$PG_BIN/initdb" || ! as_pg test -w "$dir"; then
    echo "the postgres user cannot run $PG_BIN/initdb in $dir: every parent folder (and /) must be traversable by it" >&2
    return 1
  fi
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; return 1; }
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${PG_FSYNC:-on} ${PG_EXTRA_OPTS:-}" >/dev/null ||
    { tail -20 "$dir/pg.log" >&2; return 1; }
}

pg_stop() {
  local dir=$1
  [ -f "$dir/pg/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1
  return 0
}

# redis_start DIR PORT [persist]
redis_start() {
  local dir=$1 port=$2 persist=${3:-no}
  mkdir -p "$dir/redis"
  local save=(--save '')
  [ "$persist" = yes ] && save=(--save '60 1' --dbfilename dump.rdb)
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis" "${save[@]}" --appendonly no \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis did not start on port $port" >&2
  return 1
}

redis_stop() {
  local dir=$1
  if [ -f "$dir/redis/redis.pid" ]; then
    local pid
    pid=$(cat "$dir/redis/redis.pid" 2>/dev/null)
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/redis/redis.pid"
  fi
  return 0
}

# s3_start DIR PORT: s3rver (npm, tests/node_modules) serving bucket cloudillo-blobs
# from DIR/s3 on loopback; "false" when the package is not installed.
s3_start() {
  local dir=$1 port=$2 top
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local bin=$top/tests/node_modules/s3rver/bin/s3rver.js
  [ -f "$bin" ] || return 1
  mkdir -p "$dir/s3"
  nohup node "$bin" -d "$dir/s3" -a 127.0.0.1 -p "$port" --silent --configure-bucket cloudillo-blobs \
    >"$dir/s3.log" 2>&1 &
  echo $! >"$dir/s3.pid"
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "s3rver did not start on port $port" >&2
  return 1
}

s3_stop() {
  local dir=$1
  [ -f "$dir/s3.pid" ] || return 0
  kill "$(cat "$dir/s3.pid")" 2>/dev/null
  rm -f "$dir/s3.pid"
  return 0
}
