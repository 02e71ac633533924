#!/usr/bin/env bash
# A throwaway InfluxDB 1.x (Debian's `influxdb` package) for the tests and benchmarks.
#   influxd.sh start DIR PORT   config and data under DIR, HTTP on 127.0.0.1:PORT; waits for /ping
#   influxd.sh stop DIR         stops the server started with DIR (data stays for a restart)
# Loopback only, usage reporting off, no _internal monitor database, no series limits.
set -euo pipefail
cmd=${1:?usage: influxd.sh start|stop DIR [PORT]}
dir=${2:?usage: influxd.sh start|stop DIR [PORT]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/influxd.pid

case "$cmd" in
start)
  port=${3:?usage: influxd.sh start DIR PORT}
  command -v influxd >/dev/null 2>&1 || { echo "influxd not found (apt-get install -y influxdb)" >&2; exit 3; }
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "influxd already running (pid $(cat "$pidfile"))" >&2
    exit 0
  fi
  mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
  cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:0"

[meta]
  dir = "$dir/meta"
  logging-enabled = false

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  max-series-per-database = 0
  max-values-per-tag = 0

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
CONF
  # setsid: the server outlives this script and is stopped through its pid file only.
  setsid influxd -config "$dir/influxdb.conf" -pidfile "$pidfile" >>"$dir/influxd.log" 2>&1 </dev/null &
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/ping" 2>/dev/null \
       || python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/ping', timeout=1)" 2>/dev/null; then
      echo "influxd listening on 127.0.0.1:$port (pid $(cat "$pidfile" 2>/dev/null || echo '?'))"
      exit 0
    fi
    sleep 0.1
  done
  echo "influxd did not answer on 127.0.0.1:$port within 30 s; log:" >&2
  tail -n 30 "$dir/influxd.log" >&2 || true
  exit 1
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  ;;
*)
  echo "usage: influxd.sh start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
