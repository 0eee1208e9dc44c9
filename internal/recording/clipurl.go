package recording

import (
	"net/url"
	"strconv"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/peersign"
)

// A member's browser plays a clip's MP4 from a <video> element, and saves
// a clip's or a recording's MP4 by following a link: neither sends an
// Authorization header. The API hands such a viewer a short-lived URL of
// the file's route, signed with the cluster's key (package peersign, a
// label per kind of URL) over the clip's or recording's id and the
// viewer's account, so no access token goes into a URL and any node of the
// cluster takes it.

// ClipURLTTL is how long a clip's signed file URL lasts, and a recording's
// signed download URL.
const ClipURLTTL = 5 * time.Minute

// The signing labels: a clip's file URL, a recording's download URL.
const (
	clipURL     = "clip-url"
	downloadURL = "recording-download-url"
)

// ClipURL is the path and query at which clip c's MP4 is served, until the
// time returned, to account ("" anonymous; admin: the instance admin)
// without its token. Unavailable when this node has no signing key.
func (s *Service) ClipURL(c *Clip, account string, admin bool) (string, time.Time, error) {
	q, exp, err := s.signedQuery(clipURL, c.ID, account, admin)
	if err != nil {
		return "", time.Time{}, err
	}
	return ClipFilePath(c.ID) + "?" + q.Encode(), exp, nil
}

// ClipFilePath is the path of clip id's MP4 on the recordings API, the
// link a clip's announcement in the chat carries.
func ClipFilePath(id string) string { return "/api/clips/" + id + "/file" }

// VerifyClipURL checks the query of a clip file URL made by ClipURL for
// clip id (on any node of the cluster) and returns the account it was made
// for and whether that was the instance admin.
func (s *Service) VerifyClipURL(id string, q url.Values) (account string, admin, ok bool) {
	return s.verifySigned(clipURL, id, q)
}

// DownloadURL is the path and query at which recording r's MP4 download is
// served, until the time returned, to account ("" anonymous; admin: the
// instance admin) without its token. Unavailable when this node has no
// signing key.
func (s *Service) DownloadURL(r *Recording, account string, admin bool) (string, time.Time, error) {
	q, exp, err := s.signedQuery(downloadURL, r.ID, account, admin)
	if err != nil {
		return "", time.Time{}, err
	}
	return "/api/recordings/" + r.ID + "/download?" + q.Encode(), exp, nil
}

// VerifyDownloadURL checks the query of a recording's download URL made by
// DownloadURL for recording id (on any node of the cluster) and returns the
// account it was made for and whether that was the instance admin.
func (s *Service) VerifyDownloadURL(id string, q url.Values) (account string, admin, ok bool) {
	return s.verifySigned(downloadURL, id, q)
}

// signedQuery is the query of a URL of label for id and account, and when
// it expires.
func (s *Service) signedQuery(label, id, account string, admin bool) (url.Values, time.Time, error) {
	if len(s.cfg.PeerKey) == 0 {
		return nil, time.Time{}, fault.New(fault.Unavailable, "signed file URLs need the cluster's key, which this node has not")
	}
	q := peersign.QueryFor(s.cfg.PeerKey, label, s.cfg.Now(), ClipURLTTL, id, account, adminPart(admin))
	if account != "" {
		q.Set("account", account)
	}
	if admin {
		q.Set("admin", "1")
	}
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	return q, time.Unix(exp, 0).UTC(), nil
}

func (s *Service) verifySigned(label, id string, q url.Values) (account string, admin, ok bool) {
	account, admin = q.Get("account"), q.Get("admin") == "1"
	if !peersign.ValidFor(s.cfg.PeerKey, label, s.cfg.Now(), ClipURLTTL, q.Get("exp"), q.Get("sig"), id, account, adminPart(admin)) {
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
