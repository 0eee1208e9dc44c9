package owncast

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/live"
)

// maxCMCDBody caps a CMCD report body (a player batches a few events).
const maxCMCDBody = 64 << 10

// maxCMCDReports caps the reports of one batch.
const maxCMCDReports = 100

// cmcdKeys are the CMCD v2 keys the collector reads; a report needs at
// least one of them.
var cmcdKeys = map[string]bool{"v": true, "sid": true, "e": true, "ts": true, "sta": true, "mtp": true,
	"ltc": true, "bs": true, "ec": true, "ttlb": true, "sn": true, "br": true, "d": true, "bl": true}

// cmcdPreflight answers the cross-origin preflight of /api/metrics/cmcd
// (players report from any page embedding the stream).
func cmcdPreflight(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// handleCMCD is GET and POST /api/metrics/cmcd: CMCD v2 reports (a JSON
// object, a JSON array of them, or the CMCD query parameter) feed the same
// playback window as /api/metrics/playback: mtp (kbps) is the bandwidth,
// ltc (ms) the latency, ttlb (ms) the segment download duration, and each
// error event (e=e), buffer starvation (bs) or error code (ec) counts one
// error. 200 with an empty body; 400 when no report is carried.
func (s *Surface) handleCMCD(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	var reports []map[string]any
	if q := r.URL.Query().Get("CMCD"); q != "" {
		m, err := parseCMCDQuery(q)
		if err != nil {
			writeResult(w, http.StatusBadRequest, false, err.Error())
			return
		}
		reports = append(reports, m)
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCMCDBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeResult(w, http.StatusBadRequest, false, "cmcd report too large")
				return
			}
			writeResult(w, http.StatusBadRequest, false, "unable to read the cmcd report")
			return
		}
		if b := bytes.TrimSpace(body); len(b) > 0 {
			var one map[string]any
			var many []map[string]any
			switch {
			case b[0] == '[' && json.Unmarshal(b, &many) == nil:
				reports = append(reports, many...)
			case b[0] == '{' && json.Unmarshal(b, &one) == nil:
				reports = append(reports, one)
			default:
				writeResult(w, http.StatusBadRequest, false, "the cmcd report must be a JSON object or an array of objects")
				return
			}
		}
	}
	if len(reports) > maxCMCDReports {
		writeResult(w, http.StatusBadRequest, false, "too many cmcd reports in one request")
		return
	}
	var sum live.PlaybackReport
	n := 0
	for _, m := range reports {
		rep, ok, err := cmcdReport(m)
		if err != nil {
			writeReportError(w, err)
			return
		}
		if !ok {
			continue
		}
		n++
		if rep.Bandwidth != 0 {
			sum.Bandwidth = rep.Bandwidth
		}
		if rep.Latency != 0 {
			sum.Latency = rep.Latency
		}
		if rep.DownloadDuration != 0 {
			sum.DownloadDuration = rep.DownloadDuration
		}
		sum.Errors += rep.Errors
	}
	if n == 0 {
		writeResult(w, http.StatusBadRequest, false, "no cmcd report")
		return
	}
	if err := s.d.Live.MergePlayback(s.stageID(), s.clientIP(r), r.UserAgent(), sum); err != nil {
		writeReportError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// cmcdReport reads one report; ok is false when it carries no CMCD key.
func cmcdReport(m map[string]any) (live.PlaybackReport, bool, error) {
	var rep live.PlaybackReport
	known := false
	for k := range m {
		if cmcdKeys[k] {
			known = true
			break
		}
	}
	if !known {
		return rep, false, nil
	}
	num := func(k string) (float64, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return 0, nil
		}
		f, ok := v.(float64)
		if !ok || f < 0 {
			return 0, fault.Newf(fault.Invalid, "cmcd %s must be a non-negative number", k)
		}
		return f, nil
	}
	mtp, err := num("mtp")
	if err != nil {
		return rep, false, err
	}
	ltc, err := num("ltc")
	if err != nil {
		return rep, false, err
	}
	ttlb, err := num("ttlb")
	if err != nil {
		return rep, false, err
	}
	rep.Bandwidth, rep.Latency, rep.DownloadDuration = mtp, ltc/1000, ttlb/1000
	if e, _ := m["e"].(string); e == "e" {
		rep.Errors++
	}
	if bs, _ := m["bs"].(bool); bs {
		rep.Errors++
	}
	switch ec := m["ec"].(type) {
	case []any:
		rep.Errors += float64(len(ec))
	case string:
		if ec != "" {
			rep.Errors++
		}
	}
	return rep, true, nil
}

// parseCMCDQuery reads the CMCD query form: comma-separated key=value
// pairs, strings in double quotes, a bare key is true.
func parseCMCDQuery(q string) (map[string]any, error) {
	out := map[string]any{}
	for len(q) > 0 {
		var pair string
		if i := indexUnquoted(q, ','); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, ""
		}
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, hasV := strings.Cut(pair, "=")
		if k == "" || len(out) >= 64 {
			return nil, errors.New("malformed cmcd query")
		}
		switch {
		case !hasV:
			out[k] = true
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				return nil, errors.New("malformed cmcd string in query")
			}
			out[k] = s
		default:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[k] = f
			} else {
				out[k] = v // a token such as e=t
			}
		}
	}
	return out, nil
}

// indexUnquoted is the index of the first c outside double quotes, or -1.
func indexUnquoted(s string, c byte) int {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && in:
			i++
		case s[i] == '"':
			in = !in
		case s[i] == c && !in:
			return i
		}
	}
	return -1
}
