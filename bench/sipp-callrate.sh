#!/usr/bin/env bash
# Signalling capacity: INVITE/200/ACK/BYE/200 call cycles per second (no media) with sipp as
# the client on this machine, against siprecd and, in the same run, against sipp's own UAS
# (`sipp -sn uas`) as the reference. For each server the rate is raised step by step, each
# step on a freshly started server and long enough (default 40 s) to pass 64*T1 = 32 s, so
# transactions expire while new ones arrive, as in steady service; the result is the highest
# rate whose run finished with zero failed calls.
#
#   bench/sipp-callrate.sh [SECONDS_PER_STEP] [RATES...]
#
# SCENARIO=sip-fixtures/sipp/bench-siprec.xml measures SIPREC session setups instead (multipart
# INVITE with metadata); TRANSPORT=t1 runs over TCP. Each step also prints sipp's mean
# INVITE-to-200 response time. SIPRECD=path measures another build (an older commit, say);
# NO_REFERENCE=1 skips sipp's UAS.
#
# Needs a release build (make release) and sipp (Debian sip-tester).
set -euo pipefail
cd "$(dirname "$0")/.."
STEP_SECONDS=${1:-40}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(4000 6000 7000 8000 9000 10000 12000 15000)
TRANSPORT=${TRANSPORT:-u1}
SIPRECD=${SIPRECD:-./.build/release/siprecd}
SCENARIO=${SCENARIO:-sip-fixtures/sipp/bench-call.xml}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cpu_seconds() { # utime+stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"
}

run_step() { # name port rate -> prints "rate ok|fail successful failed cpu"
  local name=$1 port=$2 rate=$3 pid=$4
  local calls=$((rate * STEP_SECONDS))
  local before after status
  before=$(cpu_seconds "$pid")
  set +e
  timeout $((STEP_SECONDS * 4 + 60)) sipp "127.0.0.1:$port" -sf "$SCENARIO" -t "$TRANSPORT" -i 127.0.0.1 -p 16000 \
    -r "$rate" -l $((rate * 4)) -m "$calls" -timeout $((STEP_SECONDS * 4 + 30))s -timeout_error \
    -buff_size 4194304 -nostdin -trace_screen -screen_file "$WORK/screen.txt" >/dev/null 2>&1
  status=$?
  set -e
  after=$(cpu_seconds "$pid")
  local ok failed
  ok=$(grep -E "^ +Successful call" "$WORK/screen.txt" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  failed=$(grep -E "^ +Failed call" "$WORK/screen.txt" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  local cpu rss
  cpu=$(awk -v a="$before" -v b="$after" 'BEGIN{printf "%.2f", b-a}')
  rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  local verdict=fail
  [ "$status" -eq 0 ] && [ "${failed:-1}" = "0" ] && [ "${ok:-0}" = "$calls" ] && verdict=ok
  # INVITE-to-200 percentiles from sipp's response-time repartition (bucket upper bounds).
  local rtt
  rtt=$(awk '/Average Response Time Repartition/ {on=1; n=0; total=0; next}
             on && /<= n </ {split($0, a, ":"); gsub(/ /, "", a[2]); match($0, /< +[0-9]+ ms/); b=substr($0, RSTART+1, RLENGTH-4); gsub(/ /, "", b); bound[n]=b; count[n]=a[2]; total+=a[2]; n++; next}
             on && /n >=/ {split($0, a, ":"); gsub(/ /, "", a[2]); bound[n]="inf"; count[n]=a[2]; total+=a[2]; n++; on=0}
             END {if (total == 0) {print "?"; exit}; c=0; p50=""; p99="";
                  for (i=0; i<n; i++) {c+=count[i]; if (p50=="" && c>=total*0.5) p50=bound[i]; if (p99=="" && c>=total*0.99) p99=bound[i]}
                  printf "p50<%sms,p99<%sms", p50, p99}' "$WORK/screen.txt")
  echo "$name rate=$rate calls=$calls successful=${ok:-?} failed=${failed:-?} server_cpu_s=$cpu peak_rss_mib=$rss invite_to_200=${rtt:-?} $verdict"
  [ "$verdict" = ok ]
}

bench_server() { # name port start-command...: a fresh server for every step
  local name=$1 port=$2
  shift 2
  local best=0
  for rate in "${RATES[@]}"; do
    "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    # Wait (bounded) until the server's port is bound.
    for _ in $(seq 1 100); do
      ss -lun -ltn | grep -q ":$port " && break
      sleep 0.1
    done
    local ok=1
    run_step "$name" "$port" "$rate" "$pid" || ok=0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ $ok -eq 1 ] || break
    best=$rate
  done
  echo "RESULT $name transport=$TRANSPORT max_clean_rate=$best calls/s"
}

[ -x "$SIPRECD" ] || { echo "build first: make release"; exit 1; }
echo "machine: $(nproc) cores, $(uname -r); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1); step ${STEP_SECONDS}s"
[ "$TRANSPORT" = u1 ] && LISTEN=udp || LISTEN=tcp
# Every call leaves two transactions for 64*T1 = 32 s (INVITE in Accepted, BYE in Completed);
# raise the default limit of 500,000 so that the limit is not what is measured. A failed step
# leaves dialogs sipp abandoned (no BYE): the stop between steps drains them for 2 s, not the
# default 15 minutes.
printf 'sip:\n  max-transactions: 4000000\n  max-concurrent-calls: 100000\n  drain-timeout-s: 2\n' > "$WORK/bench.yaml"
bench_server siprecd 15080 "$SIPRECD" --config "$WORK/bench.yaml" --sip-listen "$LISTEN:127.0.0.1:15080" --data-dir "$WORK/var" --log-level warning
[ -n "${NO_REFERENCE:-}" ] && exit 0
bench_server sipp-uas 15082 sipp -sn uas -i 127.0.0.1 -p 15082 -t "$TRANSPORT" -buff_size 4194304 -nostdin
