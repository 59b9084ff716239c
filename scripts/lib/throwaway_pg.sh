# Sourced by scripts/demo and bench/*.sh: a throwaway PostgreSQL 15 in a temp
# dir, run as the postgres user when we are root (initdb and postgres refuse
# root), and the small helpers around it.
pgbin=/usr/lib/postgresql/15/bin

# build_sqltap TARGET…: installs what is missing, then builds these targets in build/.
build_sqltap() {
  scripts/bootstrap >/dev/null
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target "$@" >/dev/null
}

as_pg() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits up to 10 s for something to listen on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# pg_init WORKDIR: initdb into WORKDIR/data (WORKDIR is made the postgres user's).
pg_init() {
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$1"; fi
  as_pg "$pgbin/initdb" -D "$1/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
}
# pg_start WORKDIR PORT [server options…]: listens on 127.0.0.1:PORT, socket in WORKDIR.
pg_start() {
  local dir=$1 port=$2
  shift 2
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir $*" start >/dev/null
}
# pg_stop WORKDIR: stops it at once, if it runs.
pg_stop() {
  if [ -f "$1/data/postmaster.pid" ]; then as_pg "$pgbin/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
}

# bench_workdir PREFIX: makes $work (a temp dir the postgres user can enter) and
# an empty $pids; on exit the processes in $pids get SIGTERM and are waited
# for, the server in $work stops and $work is removed. Ctrl-C exits with 130.
bench_workdir() {
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pg_stop "$work"
  rm -rf "$work"
}
