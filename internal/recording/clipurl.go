package recording

import (
	"net/url"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
)

// A member's browser plays a clip's MP4 from a <video> element, which
// sends no Authorization header and reads the file in byte ranges as it
// plays and seeks. The API hands such a viewer a short-lived URL of the
// clip's file route, signed with the cluster's key (package peersign, its
// own label) over the clip id and the viewer's account, so no access token
// goes into a URL and any node of the cluster takes it.

// ClipURLTTL is how long a clip's signed file URL lasts.
const ClipURLTTL = 5 * time.Minute

// clipURL is the signing label of a clip's file URL.
const clipURL = "clip-url"

// ClipURL is the path and query at which clip c's MP4 is served, until the
// time returned, to account ("" anonymous; admin: the instance admin)
// without its token. Unavailable when this node has no signing key.
func (s *Service) ClipURL(c *Clip, account string, admin bool) (string, time.Time, error) {
	if len(s.cfg.PeerKey) == 0 {
		return "", time.Time{}, fault.New(fault.Unavailable, "signed clip URLs need the cluster's key, which this node has not")
	}
	q := peersign.QueryFor(s.cfg.PeerKey, clipURL, s.cfg.Now(), ClipURLTTL, c.ID, account, adminPart(admin))
	if account != "" {
		q.Set("account", account)
	}
	if admin {
		q.Set("admin", "1")
	}
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	return "/api/clips/" + c.ID + "/file?" + q.Encode(), time.Unix(exp, 0).UTC(), nil
}

// VerifyClipURL checks the query of a clip file URL made by ClipURL for
// clip id (on any node of the cluster) and returns the account it was made
// for and whether that was the instance admin.
func (s *Service) VerifyClipURL(id string, q url.Values) (account string, admin, ok bool) {
	account, admin = q.Get("account"), q.Get("admin") == "1"
	if !peersign.ValidFor(s.cfg.PeerKey, clipURL, s.cfg.Now(), ClipURLTTL, q.Get("exp"), q.Get("sig"), id, account, adminPart(admin)) {
		return "", false, false
	}
	return account, admin, true
}

func adminPart(admin bool) string {
	if admin {
		return "admin"
	}
	return ""
}
