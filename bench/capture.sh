#!/usr/bin/env bash
# Capture overhead benchmark: pgbench tpcb-like (BENCH_PROTOCOL, default simple) at 1 and 16
# clients through three sqltapd instances on one throwaway server, in one run:
# capture off, durability = async, durability = strict. Prints TPS, p99
# latency, captured transactions per second, log bytes per transaction and the
# ratios to capture off. The publisher keeps PostgreSQL's default durability
# (fsync, synchronous_commit on), so strict's own fsync is compared with the
# server's.
#
#   bench/capture.sh                 10 s per point
#   BENCH_SECONDS=30 bench/capture.sh
#   BENCH_PROTOCOL=prepared bench/capture.sh   (pgbench -M: simple, extended, prepared)
#   BEFORE_IMAGES=off bench/capture.sh         ([capture] before_images, default on)
#   BENCH_SCALE=10 bench/capture.sh            (pgbench scale, default 16)
#   BENCH_ROUNDS=5 bench/capture.sh            (rounds, default 3)
#
# The machine is shared: other tenants' load moves a single 10 s point by
# more than some of the effects measured. Each point is therefore run
# BENCH_ROUNDS times, the three modes taking turns (off, async, strict, off,
# …), and the median of each is shown, with every round's ratios below it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-10}"
# Scale 16 (one branch row per client at 16 clients): pgbench's documentation
# asks for a scale at least the number of clients, else tpcb-like mostly
# measures contention on pgbench_branches, and any added latency (sqltapd's
# or anyone's) is multiplied by the wait for the row lock.
scale="${BENCH_SCALE:-16}"
protocol="${BENCH_PROTOCOL:-simple}"
io_threads="${SQLTAPD_IO_THREADS:-2}"
before_images="${BEFORE_IMAGES:-on}"
rounds="${BENCH_ROUNDS:-3}"

. scripts/lib/throwaway_pg.sh
build_sqltap sqltapd sqltap-dump
bench_workdir sqltap-bench-capture

pg_init "$work"
pg_port=$(free_port)
pg_start "$work" "$pg_port" -c max_connections=100 -c shared_buffers=256MB

declare -A port
for mode in off async strict; do
  port[$mode]=$(free_port)
  {
    echo "[proxy]"
    echo "listen = 127.0.0.1:${port[$mode]}"
    echo "io_threads = $io_threads"
    echo "log_level = warning"
    echo "[publisher]"
    echo "port = $pg_port"
    echo "sslmode = disable"
    echo "admin_conninfo = host=127.0.0.1 port=$pg_port user=postgres sslmode=disable"
    echo "[capture]"
    if [ "$mode" = off ]; then echo "enabled = off"; else echo "log_dir = $work/log-$mode"; echo "durability = $mode"; echo "before_images = $before_images"; fi
  } > "$work/$mode.conf"
  build/bin/sqltapd --config "$work/$mode.conf" >"$work/$mode.log" 2>&1 &
  pids+=("$!")
done
for mode in off async strict; do wait_port "${port[$mode]}"; done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $seconds s per point, median of $rounds rounds; pgbench tpcb-like -M $protocol, scale $scale; sqltapd io_threads=$io_threads; before_images = $before_images"
pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1

# log_stat MODE FIELD -> committed entries | used bytes (0 without a log)
log_stat() {
  local dir="$work/log-$1"
  [ -d "$dir" ] || { echo 0; return; }
  local out; out=$(build/bin/sqltap-dump --log "$dir" --stats)
  case $2 in
    entries) echo "$out" | awk '/^entries:/ {print $2}' ;;
    bytes) echo "$out" | awk '/^size:/ {print $2}' ;;
  esac
}

# run MODE CLIENTS -> "tps p99_ms captured_per_s log_bytes_per_tx"
run() {
  local mode=$1 clients=$2 e0 b0 e1 b1 out tps tx p99
  e0=$(log_stat "$mode" entries); b0=$(log_stat "$mode" bytes)
  rm -f "$work"/pgbench_log.*
  out=$(cd "$work" && pgbench -h 127.0.0.1 -p "${port[$mode]}" -U postgres -M "$protocol" -n -l \
        -c "$clients" -j "$(( clients < 2 ? 1 : 2 ))" -T "$seconds" postgres 2>&1)
  sleep 0.5  # the last resolutions reach the log
  e1=$(log_stat "$mode" entries); b1=$(log_stat "$mode" bytes)
  tps=$(echo "$out" | awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}')
  tx=$(echo "$out" | awk -F': ' '/actually processed/ {split($2, a, "/"); print a[1]}')
  p99=$(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", v[i]/1000}')
  awk -v tps="$tps" -v p99="$p99" -v de="$((e1 - e0))" -v db="$((b1 - b0))" -v s="$seconds" -v tx="$tx" \
    'BEGIN {printf "%s %s %.1f %.0f\n", tps, p99, de / s, (de > 0 ? db / de : 0)}'
}

printf '\n%3s %-7s | %9s %9s | %10s %10s | %9s %9s\n' cl capture tps p99-ms captured/s bytes/tx "tps/off" "p99/off"
printf '%s\n' "$(printf '=%.0s' $(seq 1 86))"
# median of the numbers on standard input
median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
for clients in 1 16; do
  declare -A res=()
  for mode in off async strict; do res[$mode]=""; done
  for ((r = 0; r < rounds; r++)); do
    for mode in off async strict; do res[$mode]+="$(run "$mode" "$clients")"$'\n'; done
  done
  col() { printf '%s' "${res[$1]}" | awk -v k="$2" 'NF {print $k}'; }
  o_tps=$(col off 1 | median); o_p99=$(col off 2 | median)
  for mode in off async strict; do
    tps=$(col "$mode" 1 | median); p99=$(col "$mode" 2 | median)
    cps=$(col "$mode" 3 | median); bpt=$(col "$mode" 4 | median)
    awk -v c="$clients" -v m="$mode" -v tps="$tps" -v p99="$p99" -v cps="$cps" -v bpt="$bpt" -v ot="$o_tps" -v op="$o_p99" \
      'BEGIN {printf "%3d %-7s | %9.0f %9.3f | %10.1f %10.0f | %9.2f %9.2f\n", c, m, tps, p99, cps, bpt, tps / ot, p99 / op}'
  done
  # Each round's TPS ratios (async, strict to that round's off, measured
  # moments apart): the spread, and their medians (paired; less moved by
  # the load of other tenants drifting between rounds).
  pa=$(paste <(col off 1) <(col async 1) | awk '{printf "%.4f\n", $2 / $1}' | median)
  ps=$(paste <(col off 1) <(col strict 1) | awk '{printf "%.4f\n", $2 / $1}' | median)
  paste <(col off 1) <(col async 1) <(col strict 1) |
    awk -v c="$clients" -v pa="$pa" -v ps="$ps" '{a = a sprintf(" %.2f", $2 / $1); s = s sprintf(" %.2f", $3 / $1)}
      END {printf "%3d rounds  | tps/off async:%s (median %.2f)  strict:%s (median %.2f)\n", c, a, pa, s, ps}'
done
echo
echo "captured/s: transactions appended to the change log per second; bytes/tx: growth of the"
echo "log's pages in use per captured transaction; tps/off and p99/off: ratios of the medians to"
echo "capture off's (goal: async >= 0.90 and strict >= 0.75 of capture-off TPS at 16 clients)."
