#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own data folder and port on 127.0.0.1, trust
# authentication, database `siprecd`. Nothing of the system's clusters is touched.
#   scripts/test-postgres.sh start DIR PORT   initialise DIR if needed, start, wait until ready
#   scripts/test-postgres.sh stop DIR         fast shutdown (connections are cut)
#   scripts/test-postgres.sh status DIR
set -euo pipefail
cmd=${1:?start|stop|status}
dir=${2:?data folder}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/pg_ctl" ] || { echo "test-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
# PostgreSQL refuses to run as root: as root, run it as the postgres user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir" -A trust -U postgres --no-sync -E UTF8 >"$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start \
      >"$dir.pg_ctl.log" 2>&1 </dev/null || { cat "$dir.pg_ctl.log" "$dir/server.log" >&2; exit 1; }
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'siprecd'" | grep -q 1 \
      || as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres siprecd
    ;;
  stop)
    if [ -f "$dir/postmaster.pid" ]; then as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 </dev/null || true; fi
    ;;
  status)
    as_owner "$bindir/pg_ctl" -D "$dir" status
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | status DIR" >&2; exit 2 ;;
esac
