#!/usr/bin/env bash
# Audio download throughput of the admin API.
#   bench/audio-download.sh [MINUTES] [REQUESTS]        (default 60 and 5)
# Writes a MINUTES-long stereo 8 kHz 16-bit WAV (a tone per channel) into a fresh data folder's
# archive with its journal line, starts a release siprecd (SQLite catalog), waits until the
# recording is catalogued, then times REQUESTS downloads of each kind with curl on the same
# machine: the whole file, 1 MiB ranges at random offsets, and conversions (?format=flac,
# ogg, mp3, wav-ulaw). Prints MB/s (of what was sent) and seconds per request, median of REQUESTS,
# and the first request's time (a conversion is made by the first request, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-60}
REQUESTS=${2:-5}
work=$(mktemp -d /tmp/siprecd-audio-bench.XXXX)
http=$((51000 + RANDOM % 1000))
token=bench-secret
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
swift build -c release --product siprecd >/dev/null
day=$(date -u +%Y/%m/%d)
mkdir -p "$work/var/archive/$day" "$work/var/recordings/$day"
wav="$work/var/archive/$day/bench-audio.wav"
python3 - "$wav" "$MINUTES" "$work/var/recordings/$day/records.jsonl" <<'PY'
import hashlib, json, math, os, struct, sys, datetime
path, minutes, journal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rate, frames = 8000, int(sys.argv[2]) * 60 * 8000
one = bytearray()
for i in range(rate):   # one second, repeated: 440 Hz left, 1 kHz right
    one += struct.pack("<hh", int(8000 * math.sin(2 * math.pi * 440 * i / rate)), int(8000 * math.sin(2 * math.pi * 1000 * i / rate)))
with open(path, "wb") as f:
    data = frames * 4
    f.write(b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16) + b"data" + struct.pack("<I", data))
    for _ in range(frames // rate):
        f.write(one)
h = hashlib.sha256(open(path, "rb").read()).hexdigest()
now = datetime.datetime.now(datetime.timezone.utc)
start = (now - datetime.timedelta(minutes=minutes + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
end = (now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
record = {"recordingID": "bench-audio", "interactionID": "bench-audio", "segment": 1, "source": "siprec", "state": "completed",
          "startedAt": start, "endedAt": end, "durationSeconds": minutes * 60, "dialogs": [], "participants": [], "streams": [],
          "file": {"channel": None, "format": "wav-pcm16", "sampleRate": rate, "channels": 2, "channelRoles": ["caller", "callee"],
                   "location": "archive", "path": path, "bytes": os.path.getsize(path), "sha256": h, "audioSeconds": minutes * 60},
          "files": [], "dtmf": [], "problems": []}
open(journal, "w").write(json.dumps(record) + "\n")
PY
size=$(stat -c %s "$wav")
SIPRECD_API_TOKEN=$token .build/release/siprecd --data-dir "$work/var" --sip-listen "udp:127.0.0.1:0" \
  --http-listen "127.0.0.1:$http" --log-level warning 2>"$work/siprecd.log" &
server=$!
for _ in $(seq 100); do
  curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$http/api/v1/recordings/bench-audio" >/dev/null 2>&1 && break
  sleep 0.1
done
url="http://127.0.0.1:$http/api/v1/recordings/bench-audio/audio"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # NAME QUERY RANGE
  local times=() bytes=0
  for _ in $(seq "$REQUESTS"); do
    local args=(-s -o /dev/null -H "Authorization: Bearer $token" -w '%{time_total} %{size_download}\n')
    if [[ "$3" == bytes=* ]]; then
      args+=(-H "Range: $3")
    elif [ -n "$3" ]; then
      local offset=$(( (RANDOM * 32768 + RANDOM) % (size - 1048576) ))
      args+=(-H "Range: bytes=$offset-$((offset + 1048575))")
    fi
    read -r t b < <(curl "${args[@]}" "$url$2")
    times+=("$t"); bytes=$b
  done
  local t
  t=$(printf '%s\n' "${times[@]}" | median)
  awk -v n="$1" -v t="$t" -v b="$bytes" -v f="${times[0]}" 'BEGIN { printf "%-22s %8.3f s per request  %8.1f MB/s  (%d bytes; first request %.3f s)\n", n, t, b / t / 1e6, b, f }'
}
echo "recording: $MINUTES min stereo 8 kHz PCM16, $size bytes; median of $REQUESTS requests each"
run "whole WAV" "" ""
run "1 MiB range" "" range
run "?format=wav-ulaw" "?format=wav-ulaw" ""
run "?format=flac" "?format=flac" ""
run "?format=ogg" "?format=ogg" ""
run "?format=mp3" "?format=mp3" ""
# Conversions are cached: the first request converts, the rest (and a player's ranges) do not.
run "?format=mp3, 1 MiB range" "?format=mp3" "bytes=1048576-2097151"
