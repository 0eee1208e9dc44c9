#!/usr/bin/env bash
# Issue 21's rows for two server builds, one after the other, each on a fresh
# server and data directory (docs/performance.md, "Issue 21's rows on a quiet
# 2-core box"). Run it twice for interleaved pairs.
#   bench/pairs.sh OUTDIR BIN_BEFORE BIN_AFTER [fanout idle steps ott together]
# The drivers (bench/chat, bench/ott, bench/together) are built from this
# checkout, so both builds are measured by the same driver.
set -u
[ $# -ge 3 ] || { echo "usage: $0 OUTDIR BIN_BEFORE BIN_AFTER [rows...]" >&2; exit 2; }
out=$(realpath -m "$1"); before=$(realpath "$2"); after=$(realpath "$3"); shift 3
cd "$(dirname "$0")/.."
drv=$(mktemp -d)
go build -o "$drv/chatbench" ./bench/chat && go build -o "$drv/ottbench" ./bench/ott &&
  go build -o "$drv/togbench" ./bench/together || exit 1
rows=${*:-"fanout idle steps ott together"}
mkdir -p "$out"
start() { # bin extra-flags...
  local bin=$1; shift
  PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  DD=$(mktemp -d)
  "$bin" --addr 127.0.0.1:$PORT --rtmp-addr "" --rtc-udp-addr= --rtc-tcp-addr= --log-level error --data-dir $DD "$@" > $DD/log 2>&1 &
  SPID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/api/status >/dev/null && break; sleep 0.2; done
}
stop() { kill $SPID; wait $SPID 2>/dev/null; rm -rf $DD; }
run() { # label bin
  local label=$1 bin=$2 f
  for row in $rows; do
    f=$out/$row.$label.txt
    echo "== $row $label $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee $f
    case $row in
      fanout) start $bin --chat-flood-rate 0; $drv/chatbench -url http://127.0.0.1:$PORT -pid $SPID -mode fanout -listeners 1000 -rate 20 -duration 20s >> $f 2>&1;;
      idle)   start $bin --chat-flood-rate 0; $drv/chatbench -url http://127.0.0.1:$PORT -pid $SPID -mode idle -listeners 10000 -settle 5s >> $f 2>&1;;
      steps)  start $bin --chat-flood-rate 0; $drv/chatbench -url http://127.0.0.1:$PORT -pid $SPID -mode steps -listeners 5000 -rates 20,40 -duration 15s -p99-limit 30s >> $f 2>&1;;
      ott)    start $bin --no-ott-rate-limit; $drv/ottbench -url http://127.0.0.1:$PORT -pid $SPID -rooms 200 -clients 10 -duration 20s >> $f 2>&1;;
      together) start $bin --together-auth-rate 0; $drv/togbench -base http://127.0.0.1:$PORT -pid $SPID -vus 300 -duration 30s -signin-retries 20 >> $f 2>&1;;
    esac
    echo "== end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $f
    stop
  done
}
run before "$before"
run after "$after"
