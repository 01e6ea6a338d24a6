#!/usr/bin/env bash
# Failover time and replication lag of two siprecd nodes under load.
#   bench/ha-failover.sh [CALLS] [RATE] [DURATION] [KILL_AFTER]     (default 300 10 20 15)
# Two release siprecd nodes on 127.0.0.1 and 127.0.0.2 share one private PostgreSQL and
# replicate to each other; dnsmasq serves SRV records (node 1 priority 10, node 2 priority 20);
# siprec-loadgen places CALLS two-stream calls at RATE/s, DURATION s each, finding the nodes by
# SRV with OPTIONS pings every second and a 2 s INVITE failover timer (what an SBC does).
# KILL_AFTER seconds into the load the primary is killed with SIGKILL, then restarted when the
# load ends. Prints: failover time (SIGKILL to the first call recorded on the backup),
# replication lag (the peers' siprecd_replication_lag_seconds, sampled every second: its
# maximum), and how long after the restart both nodes held every recording.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-300}
RATE=${2:-10}
DURATION=${3:-20}
KILL_AFTER=${4:-15}
work=$(mktemp -d /tmp/siprecd-ha-bench.XXXX)
chmod 755 "$work"
pg="$work/pg"
pgport=$((46000 + RANDOM % 1000))
dnsport=$((48000 + RANDOM % 1000))
sipA=$((49000 + RANDOM % 500)); sipB=$((sipA + 500))
httpA=$((50000 + RANDOM % 500)); httpB=$((httpA + 500))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/test-postgres.sh stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg".*
}
trap cleanup EXIT
swift build -c release --product siprecd >/dev/null
swift build -c release --product siprec-loadgen >/dev/null
bin=.build/release
scripts/test-postgres.sh start "$pg" "$pgport" >/dev/null
db="postgres://postgres@127.0.0.1:$pgport/siprecd"

dnsmasq --keep-in-foreground --port="$dnsport" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --conf-file=/dev/null --pid-file="$work/dnsmasq.pid" \
  --srv-host=_sip._udp.recorder.example.com,node1.example.com,$sipA,10,100 \
  --srv-host=_sip._udp.recorder.example.com,node2.example.com,$sipB,20,100 \
  --host-record=node1.example.com,127.0.0.1 --host-record=node2.example.com,127.0.0.2 2>"$work/dnsmasq.log" &
pids+=($!)

config() { # NODE PEER PEER_HTTP PORTS
  cat <<YAML
media:
  rtp-ports: $4
catalog:
  node: $1
replication:
  peers:
    - name: $2
      url: http://$3
      token-env: PEER_TOKEN
YAML
}
config node-a node-b "127.0.0.2:$httpB" 20000-29999 >"$work/a.yaml"
config node-b node-a "127.0.0.1:$httpA" 30000-39999 >"$work/b.yaml"
start_a() {
  SIPRECD_API_TOKEN=secret-a PEER_TOKEN=secret-b $bin/siprecd --config "$work/a.yaml" --data-dir "$work/a" --database "$db" \
    --sip-listen "udp:127.0.0.1:$sipA" --http-listen "127.0.0.1:$httpA" --log-level warning 2>>"$work/a.log" &
  a=$!; pids+=($a)
}
start_a
SIPRECD_API_TOKEN=secret-b PEER_TOKEN=secret-a $bin/siprecd --config "$work/b.yaml" --data-dir "$work/b" --database "$db" \
  --sip-listen "udp:127.0.0.2:$sipB" --http-listen "127.0.0.2:$httpB" --log-level warning 2>"$work/b.log" &
pids+=($!)
for url in "http://127.0.0.1:$httpA/healthz" "http://127.0.0.2:$httpB/healthz"; do
  for _ in $(seq 100); do curl -fs "$url" >/dev/null 2>&1 && break; sleep 0.1; done
done

# The replication lag (age of the oldest recording waiting for a peer), sampled every second:
# while both nodes run (steady), and from the kill on (the backup's queue for the dead primary).
lag_steady=0
lag_outage=0
sample_lag() {
  local l
  for url in "http://127.0.0.1:$httpA/metrics" "http://127.0.0.2:$httpB/metrics"; do
    l=$( (curl -fs "$url" 2>/dev/null || true) | awk '/^siprecd_replication_lag_seconds/ {print $2}' | sort -n | tail -1)
    if [ -n "$l" ]; then
      if [ "$1" = steady ]; then [ "$l" -gt "$lag_steady" ] && lag_steady=$l; else [ "$l" -gt "$lag_outage" ] && lag_outage=$l; fi
    fi
  done
  return 0
}

$bin/siprec-loadgen --target sip:recorder.example.com --dns-server "127.0.0.1:$dnsport" --options-interval 1 --failover-timeout 2 \
  --calls "$CALLS" --rate "$RATE" --duration "$DURATION" --json --quiet >"$work/report.json" 2>"$work/loadgen.txt" &
loadgen=$!; pids+=($loadgen)
for _ in $(seq "$KILL_AFTER"); do sleep 1; sample_lag steady; done
killed=$(date +%s.%N)
kill -9 "$a"
while kill -0 "$loadgen" 2>/dev/null; do sleep 1; sample_lag outage; done
restarted=$(date +%s.%N)
start_a
# Both nodes hold every recording the two nodes journalled (own records of each).
python3 - "$work" "$killed" "$restarted" <<'PY' &
import json, os, sys, time, glob
work, killed, restarted = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def own(node):
    ids = {}
    for path in glob.glob(f"{work}/{node}/recordings/**/records.jsonl", recursive=True):
        for line in open(path):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            ids[r["recordingID"]] = r["startedAt"]
    return ids
def archived(node):
    return {os.path.basename(p)[:-4] for p in glob.glob(f"{work}/{node}/archive/**/*.wav", recursive=True)}
from datetime import datetime
first_b = min(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in own("b").values())
print(f"failover: {first_b - killed:.2f} s from SIGKILL of the primary to the first call recorded on the backup")
deadline = time.time() + 600
while time.time() < deadline:
    expected = set(own("a")) | set(own("b"))
    if expected <= archived("a") and expected <= archived("b"):
        print(f"catch-up: both nodes held all {len(expected)} recordings {time.time() - restarted:.1f} s after the primary restarted")
        break
    time.sleep(0.5)
else:
    print("catch-up: not complete after 600 s")
PY
checker=$!
while kill -0 "$checker" 2>/dev/null; do sleep 1; sample_lag outage; done
echo "replication lag with both nodes up: at most ${lag_steady} s; while the primary was down: at most ${lag_outage} s"
echo "  (siprecd_replication_lag_seconds, whole seconds, sampled every second on both nodes)"
python3 -c "
import json,sys
r=json.load(open('$work/report.json'))
print('loadgen: %d calls, %d failovers; ' % ($CALLS, r['failovers']) + ', '.join('%s answered %d' % (t['target'], t['callsAnswered']) for t in r['targets']))"
