#!/usr/bin/env bash
# CPU cost of recording a real broadcast: hearth's own CPU time (utime+stime
# from /proc/<pid>/stat, all threads) while ffmpeg publishes a 6 Mbit/s
# H.264/AAC file over RTMP in real time (-re, stream copy, looped), with
# recording on and then off, alternating, ROUNDS times each. The live
# pipeline is passthrough (no transcode) in 1 s segments, so what differs
# between the two runs is the recorder. Results go to docs/performance.md.
#
#   bench/recording/cpu.sh HEARTH_BINARY SOURCE.flv [SECONDS] [ROUNDS]
#
# SOURCE.flv: e.g.
#   ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -t 30 \
#     -c:v libx264 -preset veryfast -b:v 5800k -minrate 5800k -maxrate 5800k -bufsize 6M \
#     -x264-params nal-hrd=cbr -g 60 -pix_fmt yuv420p -c:a aac -b:a 160k src.flv
set -euo pipefail
bin=$1 src=$2 secs=${3:-60} rounds=${4:-2}
tck=$(getconf CLK_TCK)

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

one() { # $1: on|off
	local dir pid log http rtmp pub t0 t1 w0 w1
	dir=$(mktemp -d)
	log=$dir/log
	local rec=()
	[ "$1" = on ] && rec=(--recording)
	"$bin" --data-dir "$dir/data" --addr 127.0.0.1:0 --rtmp-addr 127.0.0.1:0 --admin-password adminpassword \
		--stream-key bench-key --recording-min-free-bytes 0 "${rec[@]}" 2>"$log" &
	pid=$!
	until http=$(grep -o 'hearth listening.*addr=[^ ]*' "$log" | sed 's/.*addr=//') && [ -n "$http" ] &&
		rtmp=$(grep -o 'rtmp listening.*addr=[^ ]*' "$log" | sed 's/.*addr=//') && [ -n "$rtmp" ]; do sleep 0.2; done
	for p in 'streamoutputvariants [{"videoPassthrough":true,"audioPassthrough":true}]' 'streamlatencylevel 0'; do
		curl -sf -u admin:adminpassword -H 'Content-Type: application/json' \
			-d "{\"value\":${p#* }}" "http://$http/api/admin/config/video/${p%% *}" >/dev/null
	done
	ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$src" -c copy -f flv "rtmp://$rtmp/live/bench-key" &
	pub=$!
	# warm-up: until the stage is online, then 10 s more
	until curl -sf "http://$http/api/status" | grep -q '"online":true'; do sleep 0.5; done
	sleep 10
	t0=$(cpu "$pid") w0=$(date +%s.%N)
	sleep "$secs"
	t1=$(cpu "$pid") w1=$(date +%s.%N)
	kill "$pub"; wait "$pub" 2>/dev/null || true
	kill "$pid"; wait "$pid" 2>/dev/null || true
	local n
	n=$(find "$dir/data/recordings" -name 'seg-*.ts' 2>/dev/null | wc -l)
	awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v t="$tck" -v m="$1" -v n="$n" \
		'BEGIN { c=(b-a)/t; w=w1-w0; printf "recording %-3s  cpu %.2f s in %.1f s = %.2f %% of one core  (recorded segments: %d)\n", m, c, w, 100*c/w, n }'
	rm -rf "$dir"
}

for _ in $(seq "$rounds"); do
	one on
	one off
done
