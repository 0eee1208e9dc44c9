#!/usr/bin/env bash
# Runs Owncast's own API test suite (0.1.3, test/automated/api; not part of
# this repository) against a fresh Hearth node. Nothing here is Owncast code.
#
# usage: OC_SUITE=<owncast checkout>/test/automated/api  (with `npm install` done)
#        OC_STREAM=<owncast checkout>/test/ocTestStream.sh
#        owncast-api-suite.sh HEARTH_BINARY HTTP_PORT RTMP_PORT [jest args, e.g. --testPathIgnorePatterns federation]
# NOSTREAM=1 skips the ffmpeg test stream (then the stream-status tests fail).
# PATCH=1 drops the suite's adminPassword assertions, to check the rest of those tests.
set -u
BIN=$1; PORT=$2; RPORT=$3; shift 3
SUITE=${OC_SUITE:?set OC_SUITE}; STREAM=${OC_STREAM:-$SUITE/../../ocTestStream.sh}
D=$(mktemp -d)
export HEARTH_STAGE_NAME="New Owncast Server"
export HEARTH_STAGE_SUMMARY="This is a new live video streaming server powered by Owncast."
export HEARTH_STAGE_TAGS="owncast,streaming"
export HEARTH_STAGE_SOCIAL_HANDLES="github=https://github.com/owncast/owncast"
export HEARTH_STAGE_PAGE_CONTENT="# Welcome to Owncast!

- This is a live stream powered by [Owncast](https://owncast.online), a free and open source live streaming server.

- To discover more examples of streams, visit [Owncast's directory](https://directory.owncast.online).

- If you're the owner of this server you should visit the admin and customize the content on this page.

<hr/>

<video id=\"video\" controls preload=\"metadata\" style=\"width: 60vw; max-width: 600px; min-width: 200px;\" poster=\"https://videos.owncast.online/t/xaJ3xNn9Y6pWTdB25m9ai3\">
  <source src=\"https://assets.owncast.tv/video/owncast-embed.mp4\" type=\"video/mp4\" />
</video>"
"$BIN" --addr 127.0.0.1:$PORT --rtmp-addr 127.0.0.1:$RPORT --rtc-udp-addr 127.0.0.1:0 --rtc-tcp-addr 127.0.0.1:0 --data-dir "$D" --admin-password abc123 \
  --stream-key abc123 --default-stream-key abc123 --log-level warn > "$D/server.log" 2>&1 &
SP=$!
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:$PORT/api/config && break; sleep 0.2; done
if [ -z "${NOSTREAM:-}" ]; then
  bash "$STREAM" rtmp://127.0.0.1:$RPORT/live/abc123 > "$D/ffmpeg.log" 2>&1 &
  ST=$!
  for _ in $(seq 60); do curl -sf http://127.0.0.1:$PORT/api/status | grep -q '"online":true' && break; sleep 1; done
  sleep 5
fi
W=$(mktemp -d)
tar -C "$SUITE" --exclude=node_modules -cf - . | tar -C "$W" -xf -
ln -s "$(cd "$SUITE" && pwd)/node_modules" "$W/node_modules"
BASE=http://127.0.0.1:$PORT
find "$W" -maxdepth 2 -name '*.js' -not -path '*/node_modules/*' -print0 | xargs -0 sed -i \
  -e "s#http://127.0.0.1:8080#$BASE#g" -e "s#http://localhost:8080#$BASE#g" -e "s#ws://localhost:8080#ws://127.0.0.1:$PORT#g" \
  -e "s#path.resolve(__dirname, '../../../data/public')#'$D/public'#"
mkdir -p "$D/public"
[ -n "${PATCH:-}" ] && sed -i "/expect(res.body.adminPassword)/d" "$W/configmanagement.test.js"
(cd "$W" && npx jest --runInBand "$@" > "$D/jest.log" 2>&1)
RC=$?
[ -n "${ST:-}" ] && { pkill -P "$ST"; kill "$ST"; } 2>/dev/null
kill $SP; wait $SP 2>/dev/null
echo "logs: $D"
grep -E "✕|Tests:" "$D/jest.log"
exit $RC
