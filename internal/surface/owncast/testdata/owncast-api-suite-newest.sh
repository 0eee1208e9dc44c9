#!/usr/bin/env bash
# Runs Owncast's newest API test suite (test/automated/api of owncast/owncast:
# the numbered files 001-013, Jest 29 with jest-jasmine2; not part of this
# repository) against a fresh Hearth node. Nothing here is Owncast code.
#
# usage: OC_SUITE=<dir with the suite's files, lib/, schema/ and node_modules>
#        owncast-api-suite-newest.sh HEARTH_BINARY HTTP_PORT RTMP_PORT [jest args, e.g. 009 013_metrics]
# NOSTREAM=1 skips the ffmpeg test stream (1280x720, 60 fps, H.264/AAC, as the
# suite's ocTestStream.sh sends, without its drawtext overlay).
# PATCH=1 turns the suite's bcrypt.compare of serverconfig.adminPassword into a
# no-op, to check the rest of 009_configmanagement.
# OC_SPEC=<Owncast's openapi.yaml> places the spec where the suite's OpenAPI
# response validator (lib/openapi.js, SPEC_PATH four levels above lib/) reads
# it: the suite is copied to <scratch>/test/automated/api and the spec to
# <scratch>/openapi.yaml. The validator runs only where the suite's Jest
# configuration wires lib/openapi.setup.js (setupFilesAfterEnv).
set -u
BIN=$1; PORT=$2; RPORT=$3; shift 3
SUITE=${OC_SUITE:?set OC_SUITE}
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
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:$PORT/api/config && break; sleep 0.3; done
if [ -z "${NOSTREAM:-}" ]; then
  ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i "testsrc=size=1280x720:rate=60" \
    -f lavfi -i "sine=frequency=400:sample_rate=48000" -vcodec libx264 -acodec aac -preset ultrafast \
    -profile:v baseline -tune zerolatency -bf 0 -g 120 -b:v 2000k -b:a 128k -ac 2 -ar 48000 -r 60 -pix_fmt yuv420p \
    -f flv rtmp://127.0.0.1:$RPORT/live/abc123 > "$D/ffmpeg.log" 2>&1 &
  ST=$!
  for _ in $(seq 60); do curl -sf http://127.0.0.1:$PORT/api/status | grep -q '"online":true' && break; sleep 1; done
  sleep 3
fi
W=$(mktemp -d)
if [ -n "${OC_SPEC:-}" ]; then
  cp "$OC_SPEC" "$W/openapi.yaml"
  W=$W/test/automated/api
  mkdir -p "$W"
fi
tar -C "$SUITE" --exclude=node_modules --exclude=results -cf - . | tar -C "$W" -xf -
ln -s "$(cd "$SUITE" && pwd)/node_modules" "$W/node_modules"
BASE=http://127.0.0.1:$PORT
find "$W" -maxdepth 2 -name '*.js' -not -path '*/node_modules/*' -print0 | xargs -0 sed -i \
  -e "s#http://127.0.0.1:8080#$BASE#g" -e "s#http://localhost:8080#$BASE#g" -e "s#ws://localhost:8080#ws://127.0.0.1:$PORT#g" \
  -e "s#path.resolve(__dirname, '../../../data/public')#'$D/public'#"
mkdir -p "$D/public"
[ -n "${PATCH:-}" ] && sed -i "s/bcrypt.compare(/((...a) => {})(/" "$W/009_configmanagement.test.js"
(cd "$W" && OWNCAST_TEST_URL=$BASE npx jest --runInBand --forceExit "$@" > "$D/jest.log" 2>&1)
RC=$?
[ -n "${ST:-}" ] && kill "$ST" 2>/dev/null
kill $SP; wait $SP 2>/dev/null
echo "logs: $D"
grep -E "✕|✓|Tests:|PASS|FAIL|OpenAPI|->" "$D/jest.log" | grep -vE "✓" 
exit $RC
