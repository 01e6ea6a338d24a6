#!/usr/bin/env bash
# Media load: CALLS two-stream SIPREC calls of DURATION seconds at RATE calls/s against a
# release siprecd on this machine, with paced RTP from siprec-loadgen, which then verifies the
# recordings. Prints siprecd's CPU per stream-minute, RSS growth per call and bytes written;
# then the same number of streams into a bare C receiver (bench/c-receiver/rtp-sink.c: epoll +
# recvmmsg, the physical floor) for its CPU per stream-minute, to compare.
#
#   bench/media-load.sh CALLS [DURATION_SECONDS=300] [RATE=20]
#
# Recordings take 32 KB/s per call (stereo, 16-bit, 8 kHz): mind the disk for large runs.
# KEEP_DATA=1 keeps the data directory; LOG_LEVEL sets siprecd's (default warning); SKIP_BUILD=1
# uses the release binaries already built; SRTP=SUITE (e.g. AES_CM_128_HMAC_SHA1_80) offers every
# stream as SDES-SRTP and protects its packets, and the rtp-sink run then gets SRTP packets too
# (it only counts them), so both runs carry the same load.
# Needs gcc and ss (iproute2).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:?usage: bench/media-load.sh CALLS [DURATION_SECONDS=300] [RATE=20]}
DURATION=${2:-300}
RATE=${3:-20}
SIP_PORT=5080
SINK_PORT=41000
STREAMS=$((2 * CALLS))
WORK=$(mktemp -d)
SIPRECD_PID=
cleanup() {
  [ -n "$SIPRECD_PID" ] && kill "$SIPRECD_PID" 2>/dev/null && wait "$SIPRECD_PID" 2>/dev/null
  if [ -n "${KEEP_DATA:-}" ]; then echo "data kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # utime + stime, clock ticks
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
written_bytes() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }
json_field() { grep -o "\"$2\":[^,}]*" <<<"$1" | head -1 | cut -d: -f2; }

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== building (release)"
  for product in siprecd siprec-loadgen; do
    flock /tmp/swift-build.lock swift build -c release --product "$product" >"$WORK/build.log" 2>&1 \
      || { tail -40 "$WORK/build.log"; echo "build of $product failed"; exit 1; }
  done
fi
BIN=.build/release
HZ=$(getconf CLK_TCK)
SRTP_ARGS=()
[ -n "${SRTP:-}" ] && SRTP_ARGS=(--srtp "$SRTP")

echo "== siprecd on udp:127.0.0.1:$SIP_PORT, data in $WORK"
"$BIN/siprecd" --data-dir "$WORK" --sip-listen "udp:127.0.0.1:$SIP_PORT" --rtp-ports 20000-40000 \
  --log-level "${LOG_LEVEL:-warning}" >"$WORK/siprecd.log" 2>&1 &
SIPRECD_PID=$!
for _ in $(seq 1 300); do
  ss -ulnp 2>/dev/null | grep -q ":$SIP_PORT .*pid=$SIPRECD_PID," && break
  kill -0 "$SIPRECD_PID" 2>/dev/null || { echo "siprecd exited:"; cat "$WORK/siprecd.log"; exit 1; }
  sleep 0.1
done
ss -ulnp | grep -q ":$SIP_PORT " || { echo "siprecd did not bind udp port $SIP_PORT in 30 s"; exit 1; }

CPU0=$(cpu_ticks "$SIPRECD_PID"); RSS0=$(rss_kib "$SIPRECD_PID"); IO0=$(written_bytes "$SIPRECD_PID")
echo "== $CALLS calls x 2 streams, $DURATION s each, $RATE calls/s${SRTP:+, SRTP $SRTP}"
set +e
LOADGEN_JSON=$("$BIN/siprec-loadgen" --target "127.0.0.1:$SIP_PORT" --calls "$CALLS" --rate "$RATE" --duration "$DURATION" \
  --streams 2 --verify "$WORK" --json ${SRTP_ARGS[@]+"${SRTP_ARGS[@]}"})
LOADGEN_STATUS=$?
set -e
CPU1=$(cpu_ticks "$SIPRECD_PID"); RSS1=$(rss_kib "$SIPRECD_PID"); IO1=$(written_bytes "$SIPRECD_PID"); HWM=$(hwm_kib "$SIPRECD_PID")

PACKETS=$(json_field "$LOADGEN_JSON" packetsSent)
# Stream-minutes from the packets actually sent (one per 20 ms per stream).
awk -v calls="$CALLS" -v packets="${PACKETS:-0}" -v ticks=$((CPU1 - CPU0)) -v hz="$HZ" \
    -v rss0="$RSS0" -v rss1="$RSS1" -v hwm="$HWM" -v io=$((IO1 - IO0)) 'BEGIN {
  minutes = packets / 3000; cpu = ticks / hz
  printf "calls                              %d\n", calls
  printf "packets sent                       %d (%.1f stream-minutes)\n", packets, minutes
  printf "siprecd CPU                        %.2f s = %.5f s per stream-minute\n", cpu, (minutes > 0 ? cpu / minutes : 0)
  printf "siprecd RSS                        %.1f MiB -> %.1f MiB (peak %.1f MiB): %+.1f KiB per call\n", rss0 / 1024, rss1 / 1024, hwm / 1024, (rss1 - rss0) / calls
  printf "siprecd disk writes                %.0f bytes (%.1f MiB, %.1f KiB per call)\n", io, io / 1048576, io / 1024 / calls
}'
echo "loadgen (exit $LOADGEN_STATUS): $LOADGEN_JSON"
kill "$SIPRECD_PID"; wait "$SIPRECD_PID" 2>/dev/null || true; SIPRECD_PID=

# What siprecd itself counted, from each recording's last journal line: packets received on
# every stream against those sent, and the loss, late and SRTP failures it saw.
find "$WORK/recordings" -name records.jsonl -exec cat {} + | awk -v sent="${PACKETS:-0}" '
  match($0, /"recordingID":"[^"]*"/) { last[substr($0, RSTART, RLENGTH)] = $0 }
  END {
    for (id in last) {
      line = last[id]; recordings++
      while (match(line, /"(packets|lost|late|srtpFailures)":[0-9]+/)) {
        field = substr(line, RSTART + 1, RLENGTH - 1); split(field, kv, "\":")
        total[kv[1]] += kv[2]; line = substr(line, RSTART + RLENGTH)
      }
    }
    printf "siprecd counted                     %d recordings, %d packets received of %d sent, lost %d, late %d, SRTP failures %d\n",
      recordings, total["packets"], sent, total["lost"], total["late"], total["srtpFailures"]
  }'

echo "== reference: $STREAMS streams for $DURATION s into rtp-sink (C, epoll + recvmmsg)${SRTP:+, SRTP $SRTP}"
gcc -O2 -o "$WORK/rtp-sink" bench/c-receiver/rtp-sink.c
"$WORK/rtp-sink" "$SINK_PORT" "$STREAMS" "$DURATION" >"$WORK/sink.out" &
SINK_PID=$!
sleep 0.5
"$BIN/siprec-loadgen" rtp-only --base-port "$SINK_PORT" --streams "$STREAMS" --duration "$DURATION" ${SRTP_ARGS[@]+"${SRTP_ARGS[@]}"}
wait "$SINK_PID"
SINK=$(cat "$WORK/sink.out")
echo "rtp-sink: $SINK"
awk -v line="$SINK" 'BEGIN {
  n = split(line, fields, " ")
  for (i = 1; i <= n; i++) { split(fields[i], kv, "="); v[kv[1]] = kv[2] }
  minutes = v["packets"] / 3000; cpu = v["cpu_user_s"] + v["cpu_sys_s"]
  printf "rtp-sink CPU                       %.2f s = %.5f s per stream-minute\n", cpu, (minutes > 0 ? cpu / minutes : 0)
}'
exit "$LOADGEN_STATUS"
