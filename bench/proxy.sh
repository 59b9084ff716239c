#!/usr/bin/env bash
# Proxy overhead benchmark: pgbench select-only and tpcb-like, 1 and 16 clients,
# -M simple and -M prepared, against PostgreSQL directly, through sqltapd and
# through pgbouncer (session mode), all in one run on one throwaway server.
# Prints TPS, average latency and each proxy's CPU seconds per 10,000
# transactions (utime+stime from /proc), and the sqltapd/pgbouncer ratios.
#
#   bench/proxy.sh                 10 s per point
#   BENCH_SECONDS=30 bench/proxy.sh
#   SQLTAPD_IO_THREADS=2 bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
seconds="${BENCH_SECONDS:-10}"
io_threads="${SQLTAPD_IO_THREADS:-1}"
scale="${BENCH_SCALE:-10}"

. scripts/lib/throwaway_pg.sh
build_sqltap sqltapd
bench_workdir sqltap-bench
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

pg_init "$work"
pg_port=$(free_port)
pg_start "$work" "$pg_port" -c max_connections=100 -c shared_buffers=256MB -c synchronous_commit=off

sqltapd_port=$(free_port)
cat > "$work/sqltap.conf" <<CONF
[proxy]
listen = 127.0.0.1:$sqltapd_port
io_threads = $io_threads
log_level = warning
[publisher]
host = 127.0.0.1
port = $pg_port
sslmode = disable
[capture]
enabled = off
CONF
build/bin/sqltapd --config "$work/sqltap.conf" >"$work/sqltapd.log" 2>&1 &
sqltapd_pid=$!
pids+=("$sqltapd_pid")

bouncer_port=$(free_port)
echo '"postgres" ""' > "$work/userlist.txt"
cat > "$work/pgbouncer.ini" <<CONF
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 50
logfile = $work/pgbouncer.log
log_connections = 0
log_disconnections = 0
CONF
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$work"/pgbouncer.ini "$work"/userlist.txt; fi
# setpriv execs in place, so $! is pgbouncer itself (a shell function would not be).
if [ "$(id -u)" -eq 0 ]; then
  setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
else
  pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
fi
bouncer_pid=$!
pids+=("$bouncer_pid")
wait_port "$sqltapd_port"; wait_port "$bouncer_port"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $seconds s per point; pgbench scale $scale; sqltapd io_threads=$io_threads; $(pgbouncer --version | head -1)"
pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1

# run TARGET_PORT PID WORKLOAD CLIENTS MODE -> "tps latency_ms cpu_per_10k"
run() {
  local port=$1 pid=$2 workload=$3 clients=$4 mode=$5 before after out tps lat tx flag=""
  [ "$workload" = "select-only" ] && flag="-S"
  before=0; [ "$pid" != "-" ] && before=$(cpu_ticks "$pid")
  out=$(pgbench -h 127.0.0.1 -p "$port" -U postgres $flag -M "$mode" -c "$clients" -j "$(( clients < 2 ? 1 : 2 ))" \
        -T "$seconds" postgres 2>&1)
  after=0; [ "$pid" != "-" ] && after=$(cpu_ticks "$pid")
  tps=$(echo "$out" | awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}')
  lat=$(echo "$out" | awk -F'= ' '/latency average/ {split($2, a, " "); print a[1]}')
  tx=$(echo "$out" | awk -F': ' '/actually processed/ {split($2, a, "/"); print a[1]}')
  if [ "$pid" = "-" ]; then echo "$tps $lat -"; return; fi
  awk -v t="$tx" -v d="$((after - before))" -v hz="$tck" -v tps="$tps" -v lat="$lat" \
    'BEGIN {printf "%s %s %.3f\n", tps, lat, (t > 0 ? d / hz / t * 10000 : 0)}'
}

printf '\n%-11s %3s %-8s | %9s %9s %9s | %7s %7s %7s | %8s %8s | %6s %6s\n' \
  workload cl mode "direct" "sqltapd" "pgbouncer" "lat-d" "lat-s" "lat-b" "cpu-s" "cpu-b" "tps s/b" "cpu s/b"
printf '%s\n' "$(printf '=%.0s' $(seq 1 128))"
for workload in select-only tpcb-like; do
  for clients in 1 16; do
    for mode in simple prepared; do
      read -r d_tps d_lat _ < <(run "$pg_port" - "$workload" "$clients" "$mode")
      read -r s_tps s_lat s_cpu < <(run "$sqltapd_port" "$sqltapd_pid" "$workload" "$clients" "$mode")
      read -r b_tps b_lat b_cpu < <(run "$bouncer_port" "$bouncer_pid" "$workload" "$clients" "$mode")
      awk -v w="$workload" -v c="$clients" -v m="$mode" -v dt="$d_tps" -v st="$s_tps" -v bt="$b_tps" \
          -v dl="$d_lat" -v sl="$s_lat" -v bl="$b_lat" -v sc="$s_cpu" -v bc="$b_cpu" 'BEGIN {
        printf "%-11s %3d %-8s | %9.0f %9.0f %9.0f | %7.3f %7.3f %7.3f | %8.3f %8.3f | %6.2f %6.2f\n",
          w, c, m, dt, st, bt, dl, sl, bl, sc, bc, (bt > 0 ? st / bt : 0), (bc > 0 ? sc / bc : 0) }'
    done
  done
done
echo
echo "tps: transactions per second; lat: average latency in ms (d direct, s sqltapd, b pgbouncer);"
echo "cpu: the proxy process's CPU seconds per 10,000 transactions; s/b: sqltapd divided by pgbouncer"
echo "(tps s/b >= 1 and cpu s/b <= 1 mean sqltapd is at least as good as pgbouncer)."
