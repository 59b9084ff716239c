#!/usr/bin/env bash
# Runs every benchmark in one go and writes BENCHMARKS.md: the machine, the
# date, and each benchmark's table with its ratios against direct connections
# and pgbouncer (bench/proxy.sh), capture off (bench/capture.sh) and native
# logical replication (bench/replay.sh).
#
#   bench/all.sh                     10 s per point, capture points 3 rounds each (about 22 minutes)
#   BENCH_SECONDS=30 bench/all.sh    longer points, steadier figures
#   bench/all.sh --out FILE          write FILE instead of BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/all.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
export BENCH_SECONDS="${BENCH_SECONDS:-10}"
tmp="$(mktemp -d /tmp/sqltap-benchall.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

run() {  # run NAME COMMAND…: its output into $tmp/NAME (and the command line), shown as it comes
  local name=$1
  shift
  echo "== $* (BENCH_SECONDS=$BENCH_SECONDS)" >&2
  echo "$*" > "$tmp/$name.command"
  local start=$SECONDS
  if ! env "$@" 2>&1 | tee "$tmp/$name" >&2; then echo "$* failed" >&2; exit 1; fi
  echo "$(( SECONDS - start ))" > "$tmp/$name.seconds"
}
run proxy bench/proxy.sh
run capture bench/capture.sh
run capture_prepared BENCH_PROTOCOL=prepared bench/capture.sh
run capture_no_images BEFORE_IMAGES=off bench/capture.sh
run replay bench/replay.sh

section() {  # section NAME TITLE TEXT
  printf '\n## %s\n\n%s\n\n`BENCH_SECONDS=%s %s` (%s s)\n\n```text\n' "$2" "$3" "$BENCH_SECONDS" "$(cat "$tmp/$1.command")" "$(cat "$tmp/$1.seconds")"
  grep -v '^\(machine\|date\):' "$tmp/$1" | sed -e '/./,$!d'
  printf '```\n'
}
# (Before the redirect below truncates the output file, which would make the tree dirty.)
rev="$(git describe --always --dirty 2>/dev/null || echo '?')"
{
  echo "# sqltap benchmarks"
  echo
  echo "Written by \`bench/all.sh\`; every figure below comes from the one run described here."
  echo "Machines here are shared and noisy: compare the ratios within a run rather than"
  echo "absolute figures across runs."
  echo
  echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- sqltap $rev, PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'), $(pgbouncer --version | head -1)"
  section proxy "Proxy overhead: direct, sqltapd (capture off), pgbouncer" \
    "pgbench select-only and tpcb-like at 1 and 16 clients, simple and prepared protocol, against one server: directly, through sqltapd and through pgbouncer (session mode)."
  section capture "Capture: off, async, strict" \
    "pgbench tpcb-like (simple protocol: values inline) through sqltapd with capture off, durability async and strict; ratios to capture off. Before images on (the default)."
  section capture_prepared "Capture, prepared statements" \
    "The same with pgbench -M prepared (parameters, statements parsed once per connection)."
  section capture_no_images "Capture without before images" \
    "The simple protocol again with [capture] before_images = off: no old row per UPDATE (subscribers then check the key only)."
  section replay "Replay against native logical replication" \
    "A publisher and two subscriber servers; pgbench tpcb-like through sqltapd (strict) or directly (native logical replication): lag under load, and catch-up from a backlog."
} > "$out"
echo "wrote $out" >&2
