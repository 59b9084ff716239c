#!/usr/bin/env bash
# Replay benchmark: sqltap's replay engine against PostgreSQL's native logical
# replication, in one run, on throwaway servers (a publisher and one
# subscriber server per system, so that neither applies on the other's).
#
# Workload: pgbench tpcb-like (BENCH_CLIENTS clients, default 8). For each
# system, two measurements:
#   under load  the subscriber applies while the workload runs for
#               BENCH_SECONDS: source TPS, the largest lag seen (transactions
#               not yet applied, sampled every 0.5 s), and the drain time (from
#               the workload's end until the subscriber holds every transaction);
#   backlog     the subscriber is away (sqltap: its server stopped; native: the
#               subscription disabled) while the workload runs for BENCH_SECONDS,
#               then returns: catch-up time and apply rate (transactions and
#               rows per second).
# Progress on both sides is measured the same way: pgbench_history rows (one
# per transaction) on the publisher and on the subscriber.
#
#   bench/replay.sh
#   BENCH_SECONDS=30 BENCH_CLIENTS=16 bench/replay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-10}"
clients="${BENCH_CLIENTS:-8}"
scale="${BENCH_SCALE:-10}"
durability="${BENCH_DURABILITY:-strict}"

. scripts/lib/throwaway_pg.sh
build_sqltap sqltapd sqltap-dump
bench_workdir sqltap-bench-replay

settings=(-c max_connections=100 -c shared_buffers=128MB -c wal_level=logical -c max_wal_senders=10
          -c max_replication_slots=10)
for srv in pub sub_sq sub_nat; do
  mkdir -p "$work/$srv"
  chmod 755 "$work/$srv"
  pg_init "$work/$srv"
  declare "port_$srv=$(free_port)"
  p="port_$srv"
  pg_start "$work/$srv" "${!p}" "${settings[@]}"
done
cleanup_servers() { pg_stop "$work/sub_sq"; pg_stop "$work/sub_nat"; pg_stop "$work/pub"; bench_cleanup; }
trap cleanup_servers EXIT

q() { psql -X -A -t -q -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"; }
for db in sq nat; do
  q "$port_pub" postgres "CREATE DATABASE $db"
  pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$port_pub" -U postgres "$db" >/dev/null 2>&1
done
q "$port_sub_sq" postgres "CREATE DATABASE sq"
pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$port_sub_sq" -U postgres sq >/dev/null 2>&1
q "$port_sub_nat" postgres "CREATE DATABASE nat"
pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$port_sub_nat" -U postgres nat >/dev/null 2>&1

# sqltap: sqltapd in front of database sq, replaying to sub_sq.
port_px=$(free_port)
cat > "$work/sqltap.conf" <<CONF
[proxy]
listen = 127.0.0.1:$port_px
io_threads = 2
log_level = warning
[publisher]
port = $port_pub
sslmode = disable
admin_conninfo = host=127.0.0.1 port=$port_pub user=postgres sslmode=disable
[capture]
log_dir = $work/log
durability = $durability
[subscriber.bench]
conninfo = host=127.0.0.1 port=$port_sub_sq dbname=sq user=postgres sslmode=disable
database = sq
retry_max = 1s
CONF
build/bin/sqltapd --config "$work/sqltap.conf" >"$work/sqltapd.log" 2>&1 &
pids+=("$!")
wait_port "$port_px"

# native: a publication on nat, a subscription on sub_nat (the rows are there already).
q "$port_pub" nat "CREATE PUBLICATION bench FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
q "$port_sub_nat" nat "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$port_pub user=postgres dbname=nat' PUBLICATION bench WITH (copy_data = false)" 2>/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); pgbench tpcb-like, $clients clients, $seconds s per run, scale $scale;" \
     "sqltap capture durability = $durability"

# system -> where clients write, and where progress is read
src_port() { [ "$1" = sqltap ] && echo "$port_px" || echo "$port_pub"; }
db_of() { [ "$1" = sqltap ] && echo sq || echo nat; }
sub_port() { [ "$1" = sqltap ] && echo "$port_sub_sq" || echo "$port_sub_nat"; }
history() { q "$1" "$2" "SELECT count(*) FROM pgbench_history" 2>/dev/null || echo -1; }
now() { date +%s.%N; }

# wait_applied SYSTEM TARGET -> seconds it took (up to 600)
wait_applied() {
  local t0; t0=$(now)
  while [ "$(history "$(sub_port "$1")" "$(db_of "$1")")" -lt "$2" ]; do
    sleep 0.05
    if awk -v a="$(now)" -v b="$t0" 'BEGIN {exit !(a - b > 600)}'; then echo "timeout"; return; fi
  done
  awk -v a="$(now)" -v b="$t0" 'BEGIN {printf "%.2f", a - b}'
}

# catch_up SYSTEM FROM TARGET -> "resume_s applied catchup_s": the time until
# the subscriber applied its first transaction past FROM (reconnecting), then
# the transactions applied and the time taken from there to TARGET.
catch_up() {
  local t0 t1 first
  t0=$(now)
  while [ "$(history "$(sub_port "$1")" "$(db_of "$1")")" -le "$2" ]; do sleep 0.02; done
  t1=$(now)
  first=$(history "$(sub_port "$1")" "$(db_of "$1")")
  local rest; rest=$(wait_applied "$1" "$3")
  awk -v a="$t1" -v b="$t0" -v n="$(( $3 - first ))" -v r="$rest" 'BEGIN {printf "%.2f %d %s", a - b, n, r}'
}

# pgbench_run SYSTEM -> "tps transactions"
pgbench_run() {
  local out
  out=$(pgbench -h 127.0.0.1 -p "$(src_port "$1")" -U postgres -n -c "$clients" -j 2 -T "$seconds" "$(db_of "$1")" 2>&1)
  echo "$(echo "$out" | awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}') $(echo "$out" | awk -F': ' '/actually processed/ {split($2, a, "/"); print a[1]}')"
}

# under_load SYSTEM -> "tps max_lag drain_s"
under_load() {
  local sys=$1 db; db=$(db_of "$1")
  wait_applied "$sys" "$(history "$port_pub" "$db")" >/dev/null
  pgbench_run "$sys" > "$work/pgbench.out" &
  local bench=$! max=0 lag
  while kill -0 "$bench" 2>/dev/null; do
    lag=$(( $(history "$port_pub" "$db") - $(history "$(sub_port "$sys")" "$db") ))
    [ "$lag" -gt "$max" ] && max=$lag
    sleep 0.5
  done
  wait "$bench"
  local drain; drain=$(wait_applied "$sys" "$(history "$port_pub" "$db")")
  read -r tps _ < "$work/pgbench.out"
  echo "$tps $max $drain"
}

# backlog SYSTEM -> "transactions resume_s applied catchup_s"
backlog() {
  local sys=$1 db; db=$(db_of "$1")
  wait_applied "$sys" "$(history "$port_pub" "$db")" >/dev/null
  local from; from=$(history "$port_pub" "$db")
  if [ "$sys" = sqltap ]; then pg_stop "$work/sub_sq"; else q "$port_sub_nat" nat "ALTER SUBSCRIPTION bench DISABLE"; fi
  local tx; read -r _ tx <<<"$(pgbench_run "$sys")"
  local target; target=$(history "$port_pub" "$db")
  if [ "$sys" = sqltap ]; then pg_start "$work/sub_sq" "$port_sub_sq" "${settings[@]}"; else q "$port_sub_nat" nat "ALTER SUBSCRIPTION bench ENABLE"; fi
  echo "$tx $(catch_up "$sys" "$from" "$target")"
}

declare -A load back
for sys in native sqltap; do
  load[$sys]=$(under_load "$sys")
  back[$sys]=$(backlog "$sys")
done

printf '\n%-8s | %9s %12s %9s | %9s %9s %10s %10s %11s\n' system tps max-lag-tx drain-s backlog resume-s catchup-s apply-tx/s apply-rows/s
printf '%s\n' "$(printf '=%.0s' $(seq 1 102))"
declare -A rate
for sys in native sqltap; do
  read -r tps max drain <<<"${load[$sys]}"
  read -r tx resume applied cu <<<"${back[$sys]}"
  rate[$sys]=$(awk -v n="$applied" -v cu="$cu" 'BEGIN {printf "%.1f", (cu > 0 ? n / cu : 0)}')
  # tpcb-like: 4 rows per transaction (3 updates, 1 insert)
  awk -v s="$sys" -v tps="$tps" -v max="$max" -v d="$drain" -v tx="$tx" -v rs="$resume" -v cu="$cu" -v r="${rate[$sys]}" \
    'BEGIN {printf "%-8s | %9.0f %12d %9s | %9d %9s %10s %10.0f %11.0f\n", s, tps, max, d, tx, rs, cu, r, 4 * r}'
done
read -r n_tps _ n_drain <<<"${load[native]}"
read -r s_tps _ s_drain <<<"${load[sqltap]}"
echo
awk -v nt="$n_tps" -v st="$s_tps" -v nd="$n_drain" -v sd="$s_drain" -v nr="${rate[native]}" -v sr="${rate[sqltap]}" 'BEGIN {
  printf "ratios sqltap/native: source tps %.2f (sqltap clients go through the proxy and capture), drain time %.2f," \
         " backlog apply rate %.2f\n", st / nt, (nd > 0 ? sd / nd : 0), (nr > 0 ? sr / nr : 0) }'
echo "max-lag-tx: transactions committed on the publisher and not yet on the subscriber, largest sample;"
echo "drain-s: from the workload's end until the subscriber holds every transaction; backlog: transactions"
echo "made while the subscriber was away; resume-s: until it applied the first of them (reconnect, backoff);"
echo "catchup-s and apply rates: from there to the last; apply-rows/s: 4 rows per tpcb-like transaction."
