package hls

import (
	"errors"
	"net/url"
	"strconv"
)

// errBadBlocking is the answer to a malformed blocking playlist request.
var errBadBlocking = errors.New("bad _HLS_msn or _HLS_part")

// ParseBlockingRequest reads an LL-HLS blocking playlist reload from a
// playlist request's query (RFC 8216bis §6.2.5.2): _HLS_msn=<seq> and,
// optionally, _HLS_part=<i>. blocking is false when the request names no
// _HLS_msn; part is -1 when it names no part. Values must be decimal
// integers in range (no sign, no space), each parameter given once, and
// _HLS_part only with _HLS_msn; anything else is an error.
func ParseBlockingRequest(q url.Values) (msn, part int, blocking bool, err error) {
	if !q.Has("_HLS_msn") {
		if q.Has("_HLS_part") {
			return 0, -1, false, errBadBlocking
		}
		return 0, -1, false, nil
	}
	msn, ok := decimal(q["_HLS_msn"])
	if !ok {
		return 0, -1, false, errBadBlocking
	}
	part = -1
	if q.Has("_HLS_part") {
		if part, ok = decimal(q["_HLS_part"]); !ok {
			return 0, -1, false, errBadBlocking
		}
	}
	return msn, part, true, nil
}

// decimal parses the one value of a parameter as a non-negative decimal
// integer of at most nine digits.
func decimal(vs []string) (int, bool) {
	if len(vs) != 1 || len(vs[0]) == 0 || len(vs[0]) > 9 {
		return 0, false
	}
	for _, c := range vs[0] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(vs[0])
	return n, err == nil
}
