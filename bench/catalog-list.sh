#!/usr/bin/env bash
# List latency over a large catalog, through the running server's REST API.
#   bench/catalog-list.sh [RECORDINGS] [REQUESTS]          (default 1000000 and 300)
# Seeds RECORDINGS recordings (three participants' keys, a Call-ID and a vendor id each, spread
# over 90 days, 4 tenants) straight into SQLite and into a private PostgreSQL with SQL, starts a
# release siprecd on each, and times REQUESTS requests per query with one keep-alive client.
# Prints p50/p99 in milliseconds per query and catalog.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
REQUESTS=${2:-300}
work=$(mktemp -d /tmp/siprecd-catalog-bench.XXXX)
chmod 755 "$work"   # the PostgreSQL server runs as the postgres user
pg="$work/pg"
port=$((46000 + RANDOM % 1000))
http=$((47000 + RANDOM % 1000))
token=bench-secret
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  scripts/test-postgres.sh stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg".*
}
trap cleanup EXIT
swift build -c release --product siprecd >/dev/null
bin=.build/release/siprecd

# One recording, as SQL over a row number i: ids, times (newest first over 90 days), keys.
rows_sql() {
  local series=$1
  cat <<SQL
INSERT INTO recordings (id, interaction_id, segment, source, state, tenant, started_at, ended_at, duration, src_address,
  call_ids, session_ids, group_id, vendor_ids, participants, files, record)
SELECT 'rec-' || PAD9(i), 'rec-' || PAD9(i), 1, 'siprec', CASE WHEN i % 50 = 0 THEN 'recovered' ELSE 'completed' END,
  'tenant-' || (i % 4), 1780000000000000 + i * 7776000000000 / $N, 1780000000000000 + i * 7776000000000 / $N + 180000000, 180.0,
  '192.0.2.10:5060', '["call-' || i || '@example.com"]', '[]', NULL, '["ucid-' || i || '"]',
  '[{"aor":"sip:+1555' || PAD7(i % 2000000) || '@example.com","name":"Agent ' || (i % 500) || '","role":"caller"},{"aor":"sip:+1444' || PAD7((i * 7) % 3000000) || '@example.com","role":"callee"}]',
  '[{"format":"wav-pcm16","sampleRate":8000,"channels":2,"channelRoles":["caller","callee"],"location":"archive","path":"archive/rec.wav","bytes":2880044,"sha256":"00","audioSeconds":180}]',
  '{"recordingID":"rec-' || i || '","state":"completed","streams":[{"id":"1","codec":"PCMU"},{"id":"2","codec":"PCMU"}],"participants":[],"changes":[],"dtmf":[],"problems":[]}'
FROM $series;
INSERT INTO recording_keys (kind, value, recording_id) SELECT 'c', 'call-' || i || '@example.com', 'rec-' || PAD9(i) FROM $series;
INSERT INTO recording_keys (kind, value, recording_id) SELECT 'v', 'ucid-' || i, 'rec-' || PAD9(i) FROM $series;
INSERT INTO recording_keys (kind, value, recording_id) SELECT 'p', '+1555' || PAD7(i % 2000000), 'rec-' || PAD9(i) FROM $series;
INSERT INTO recording_keys (kind, value, recording_id) SELECT 'p', 'agent ' || (i % 500), 'rec-' || PAD9(i) FROM $series;
INSERT INTO recording_keys (kind, value, recording_id) SELECT 'p', '+1444' || PAD7((i * 7) % 3000000), 'rec-' || PAD9(i) FROM $series;
SQL
}

start_server() {
  "$bin" --data-dir "$work/var" --sip-listen "udp:127.0.0.1:0" --http-listen "127.0.0.1:$http" --rtp-ports 45000-45100 "$@" \
    >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && return 0; sleep 0.1; done
  cat "$work/server.log" >&2; exit 1
}
stop_server() { kill "$server"; wait "$server" || true; server=; }

measure() {
  local label=$1
  python3 - "$http" "$token" "$REQUESTS" "$label" "$N" <<'PY'
import http.client, json, sys, time
port, token, count, label, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
queries = {
    "newest 50": "/api/v1/recordings?limit=50",
    "page 20 of newest (cursor)": None,
    "participant number prefix": "/api/v1/recordings?participant=%2B15550012&limit=50",
    "participant name prefix": "/api/v1/recordings?participant=agent%2042&limit=50",
    "one hour": "/api/v1/recordings?from=2026-06-15T10:00:00Z&to=2026-06-15T11:00:00Z&limit=50",
    "Call-ID": "/api/v1/recordings?callId=call-%d%%40example.com" % (n // 3),
    "vendor id": "/api/v1/recordings?vendorId=ucid-%d" % (n // 2),
    "tenant + state": "/api/v1/recordings?tenant=tenant-2&state=recovered&limit=50",
}
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer " + token}
def get(path):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse(); body = r.read()
    assert r.status == 200, (path, r.status, body[:200])
    return json.loads(body)
cursor_path = "/api/v1/recordings?limit=50"
for _ in range(19):
    cursor_path = "/api/v1/recordings?limit=50&cursor=" + get(cursor_path)["nextCursor"]
queries["page 20 of newest (cursor)"] = cursor_path
for name, path in queries.items():
    items = len(get(path)["items"])
    times = []
    for _ in range(count):
        start = time.perf_counter(); get(path); times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(f"{label:10} {name:28} items {items:3}  p50 {times[len(times)//2]:7.2f} ms  p99 {times[int(len(times)*0.99)-1]:7.2f} ms")
PY
}

echo "seeding $N recordings (SQLite)"
export SIPRECD_API_TOKEN=$token
start_server; stop_server   # creates the catalog and its schema
t0=$(date +%s)
sqlite3 "$work/var/catalog.sqlite" <<SQL
PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;
BEGIN;
$(rows_sql "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $N) SELECT i FROM s)" \
  | sed -E "s/PAD9\(([^)]*)\)/printf('%09d', \1)/g; s/PAD7\(\(([^)]*)\) % ([0-9]+)\)/printf('%07d', (\1) % \2)/g; s/PAD7\(([^)]*)\)/printf('%07d', \1)/g")
COMMIT;
ANALYZE;
SQL
echo "  seeded in $(( $(date +%s) - t0 )) s, $(du -h "$work/var/catalog.sqlite" | cut -f1)"
start_server
measure sqlite
stop_server

echo "seeding $N recordings (PostgreSQL)"
scripts/test-postgres.sh start "$pg" "$port"
url="postgres://postgres@127.0.0.1:$port/siprecd"
start_server --database "$url"
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$http/api/v1/recordings?limit=1" >/dev/null   # migrations run
stop_server
t0=$(date +%s)
rows_sql "generate_series(1, $N) AS s(i)" >"$work/pg.in.sql"
python3 - "$work/pg.in.sql" "$work/pg.sql" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r"PAD9\(([^)]*)\)", r"lpad(text(\1), 9, '0')", s)
s = re.sub(r"PAD7\((\([^)]*\)[^)]*|[^)]*)\)", r"lpad(text(\1), 7, '0')", s)
open(sys.argv[2], "w").write(s)
PY
psql -q -h 127.0.0.1 -p "$port" -U postgres siprecd -v ON_ERROR_STOP=1 -c "BEGIN" -f "$work/pg.sql" -c "COMMIT" -c "ANALYZE" >/dev/null
echo "  seeded in $(( $(date +%s) - t0 )) s"
start_server --database "$url"
measure postgres
stop_server
