package federation

import (
	"context"
	"errors"
	"html"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/identity"
)

// Following is a remote actor that a local actor follows: Owncast 0.2's
// "featured streams" (another Owncast or Hearth server, or any fediverse
// account), whose go-live posts this server receives and lists.
type Following struct {
	ID         string // ours, for the admin routes
	Actor      string // the local actor username that follows
	IRI        string // the remote actor id
	Inbox      string
	Name       string
	Username   string // user@host
	Image      string
	FollowIRI  string     // our Follow activity's id
	AcceptedAt *time.Time // nil until the remote accepts
	// The latest public post received from the remote, and when its latest
	// go-live post came (a note tagged #owncast, as Owncast's and Hearth's
	// go-live posts are).
	PostIRI     string
	PostText    string // plain text, at most 500 characters
	PostURL     string // the post's page
	PostPreview string // its first image attachment
	PostAt      *time.Time
	LiveAt      *time.Time
	CreatedAt   time.Time
}

// Live reports whether the remote's latest go-live post is younger than
// window (go-live posts have no matching "went offline" activity, so a
// featured stream counts as live for a while after its post).
func (f *Following) Live(now time.Time, window time.Duration) bool {
	return f.LiveAt != nil && now.Sub(*f.LiveAt) < window
}

// FollowingStore persists followings; part of Store.
type FollowingStore interface {
	// PutFollowing inserts or replaces a following (unique per actor and
	// remote IRI).
	PutFollowing(ctx context.Context, f *Following) error
	FollowingByID(ctx context.Context, id string) (*Following, error)
	FollowingOf(ctx context.Context, actor, iri string) (*Following, error)
	// Followings lists a local actor's followings ("" for every actor's),
	// newest first.
	Followings(ctx context.Context, actor string) ([]*Following, error)
	DeleteFollowing(ctx context.Context, id string) error
}

// maxFollowing bounds how many remote actors one local actor follows.
const maxFollowing = 200

// Follow makes a local actor (the server actor when username is "")
// follow a remote one: target is an account (user@host), an actor URL, or
// an Owncast or Hearth server's address (its /api/config names its
// account). The Follow is delivered signed; the remote's Accept marks it
// accepted. Following an actor already followed sends the Follow again.
func (s *Service) Follow(ctx context.Context, username, target string) (*Following, error) {
	st := s.Settings()
	if !st.Enabled || st.ServerURL == "" {
		return nil, fault.New(fault.Invalid, "federation is not enabled")
	}
	if username == "" {
		username = st.Username
	}
	local, err := s.Local(ctx, username)
	if err != nil {
		return nil, err
	}
	remote, err := s.resolve(ctx, target)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(remote.ID); err != nil || blocked(st, u.Hostname()) {
		return nil, errBlocked
	}
	if remote.ID == s.actorIRI(st, local.Username) {
		return nil, fault.New(fault.Invalid, "an actor cannot follow itself")
	}
	now := s.now().UTC()
	f, err := s.st.FollowingOf(ctx, local.Username, remote.ID)
	switch {
	case errors.Is(err, fault.NotFound):
		all, lerr := s.st.Followings(ctx, local.Username)
		if lerr != nil {
			return nil, lerr
		}
		if len(all) >= maxFollowing {
			return nil, fault.New(fault.Invalid, "this actor follows too many others already")
		}
		f = &Following{ID: identity.NewID(), Actor: local.Username, IRI: remote.ID, CreatedAt: now}
	case err != nil:
		return nil, err
	}
	f.Inbox, f.Name, f.Username, f.Image = remote.Inbox, remote.Name, remote.FullUsername(), remote.Image
	f.FollowIRI = s.objectIRI(st, uuid.NewString())
	if err := s.st.PutFollowing(ctx, f); err != nil {
		return nil, err
	}
	follow := map[string]any{"@context": ContextAS, "id": f.FollowIRI, "type": "Follow",
		"actor": s.actorIRI(st, local.Username), "object": remote.ID}
	if err := s.enqueue(ctx, follow, []string{remote.Inbox}); err != nil {
		return nil, err
	}
	return f, nil
}

// Unfollow stops following (an Undo of the Follow is delivered) and
// forgets the remote's posts. A hidden stage channel actor (its community
// private, or its actor switched off) unfollows too: its Undo is signed
// with a key published in its actor document, which answers 404 while
// hidden, so the remote's server is recorded as one it is leaving, whose
// signed fetches get its bare key document (hiddenActor) until the Undo's
// deliveries are over.
func (s *Service) Unfollow(ctx context.Context, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fault.New(fault.NotFound, "no such followed server")
	}
	f, err := s.st.FollowingByID(ctx, id)
	if err != nil {
		return err
	}
	st := s.Settings()
	send := st.Enabled && st.ServerURL != ""
	if send {
		hidden, err := s.hiddenStage(ctx, f.Actor)
		if err != nil {
			return err
		}
		if u, perr := url.Parse(f.IRI); hidden && perr == nil && u.Host != "" {
			now := s.now().UTC()
			if err := s.st.PutLeaving(ctx, strings.ToLower(f.Actor), strings.ToLower(u.Host), now.Add(s.leaveWindow()), now); err != nil {
				return err
			}
		}
	}
	// The Undo is queued before the following is forgotten: a node killed
	// (or a queue refusing) between the two leaves the following listed,
	// so the unfollow can be asked again, where the other order left the
	// remote sending us its posts with nothing left here to undo.
	if send {
		self := s.actorIRI(st, f.Actor)
		undo := map[string]any{"@context": ContextAS, "id": s.objectIRI(st, uuid.NewString()), "type": "Undo", "actor": self,
			"object": map[string]any{"id": f.FollowIRI, "type": "Follow", "actor": self, "object": f.IRI}}
		if err := s.enqueue(ctx, undo, []string{f.Inbox}); err != nil {
			return err
		}
	}
	return s.st.DeleteFollowing(ctx, id)
}

// Followings lists what a local actor follows ("" for the server actor's;
// all lists every actor's).
func (s *Service) Followings(ctx context.Context, username string, all bool) ([]*Following, error) {
	if all {
		return s.st.Followings(ctx, "")
	}
	if username == "" {
		username = s.Settings().Username
	}
	return s.st.Followings(ctx, username)
}

// resolve finds a remote actor from an account, actor URL or server URL.
func (s *Service) resolve(ctx context.Context, target string) (*remoteActor, error) {
	target = strings.TrimSpace(target)
	if target == "" || len(target) > 2048 {
		return nil, fault.New(fault.Invalid, "give an account (user@host) or a server's URL")
	}
	actorIRI := ""
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(s.cfg.InsecureHTTP && u.Scheme == "http")) {
			return nil, fault.New(fault.Invalid, "the URL must be https://")
		}
		if u.Path == "" || u.Path == "/" {
			// A server's address: Owncast and Hearth name their account in
			// /api/config.
			cfg, err := s.fetchJSON(ctx, u.Scheme+"://"+u.Host+"/api/config", 256<<10)
			if err != nil {
				return nil, fault.Wrap(fault.Invalid, "unable to read the server's /api/config", err)
			}
			fed, _ := cfg["federation"].(map[string]any)
			account := str(fed["account"])
			if account == "" || fed["enabled"] == false {
				return nil, fault.New(fault.Invalid, "that server does not federate")
			}
			target = account
		} else {
			actorIRI = target
		}
	}
	if actorIRI == "" {
		iri, err := s.webFingerActor(ctx, target)
		if err != nil {
			return nil, err
		}
		actorIRI = iri
	}
	doc, err := s.fetchJSON(ctx, actorIRI, maxActorDoc)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "unable to fetch the actor", err)
	}
	a := parseActor(doc)
	if a.ID != actorIRI || a.Inbox == "" {
		return nil, fault.New(fault.Invalid, "the actor document is not usable")
	}
	if _, err := s.client.CheckURL(a.Inbox); err != nil {
		return nil, fault.Wrap(fault.Invalid, "the actor's inbox is not reachable", err)
	}
	return a, nil
}

// webFingerActor finds an account's actor id through WebFinger.
func (s *Service) webFingerActor(ctx context.Context, account string) (string, error) {
	account = strings.TrimPrefix(strings.TrimSpace(account), "@")
	user, host, ok := strings.Cut(account, "@")
	if !ok || user == "" || host == "" || strings.ContainsAny(host, "/?#@") || len(account) > 320 {
		return "", fault.New(fault.Invalid, "account must be user@host")
	}
	if blocked(s.Settings(), strings.Split(host, ":")[0]) {
		return "", errBlocked
	}
	q := url.Values{"resource": {"acct:" + account}}
	wf, err := s.fetchJSON(ctx, s.scheme()+"://"+host+"/.well-known/webfinger?"+q.Encode(), 64<<10)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, "unable to find the account", err)
	}
	for _, l := range list(wf["links"]) {
		lm, _ := l.(map[string]any)
		if str(lm["rel"]) == "self" && strings.Contains(str(lm["type"]), "json") && str(lm["href"]) != "" {
			return str(lm["href"]), nil
		}
	}
	return "", fault.New(fault.Invalid, "the account has no ActivityPub actor")
}

// accepted applies an Accept (or, with ok false, a Reject) of one of our
// Follows from the actor we asked.
func (s *Service) accepted(ctx context.Context, local *LocalActor, from *remoteActor, act map[string]any, ok bool) error {
	f, err := s.st.FollowingOf(ctx, local.Username, from.ID)
	if errors.Is(err, fault.NotFound) {
		return nil // not one of ours (or already unfollowed)
	}
	if err != nil {
		return err
	}
	obj := act["object"]
	if id := idOf(obj); id != "" && id != f.FollowIRI {
		if inner, isMap := obj.(map[string]any); !isMap || str(inner["type"]) != "Follow" || idOf(inner["object"]) != from.ID {
			return fault.New(fault.Invalid, "the Accept is not of our Follow")
		}
	}
	if !ok {
		return s.st.DeleteFollowing(ctx, f.ID)
	}
	if f.AcceptedAt == nil {
		now := s.now().UTC()
		f.AcceptedAt = &now
		return s.st.PutFollowing(ctx, f)
	}
	return nil
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// plainText turns a note's HTML into one line of text.
func plainText(h string, limit int) string {
	h = strings.NewReplacer("</p>", " ", "<br>", " ", "<br/>", " ", "<br />", " ").Replace(h)
	t := strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(h, ""))), " ")
	if utf8.RuneCountInString(t) > limit {
		r := []rune(t)
		t = string(r[:limit-1]) + "…"
	}
	return t
}

// received applies a Create from an actor we follow: its public note is
// kept as the remote's latest post (and a go-live post marks it live).
// A Create from anyone else is refused, as before: nobody replies into the
// stage.
func (s *Service) received(ctx context.Context, local *LocalActor, from *remoteActor, act map[string]any) error {
	f, err := s.st.FollowingOf(ctx, local.Username, from.ID)
	if errors.Is(err, fault.NotFound) {
		return fault.New(fault.Invalid, "replies are not accepted")
	}
	if err != nil {
		return err
	}
	note, _ := act["object"].(map[string]any)
	if note == nil || str(note["type"]) != "Note" {
		return nil // only notes are listed
	}
	if a := idOf(note["attributedTo"]); a != "" && a != from.ID {
		return errActorMismatch
	}
	public := false
	for _, to := range append(list(act["to"]), list(act["cc"])...) {
		if t := idOf(to); t == Public || t == "as:Public" || t == "Public" {
			public = true
		}
	}
	if !public {
		return nil // a direct or followers-only note is not shown to viewers
	}
	now := s.now().UTC()
	f.PostIRI, f.PostText, f.PostAt = idOf(note), plainText(str(note["content"]), 500), &now
	f.PostURL = idOf(note["url"])
	if f.PostURL == "" {
		f.PostURL = f.PostIRI
	}
	f.PostPreview = ""
	for _, at := range list(note["attachment"]) {
		am, _ := at.(map[string]any)
		if strings.HasPrefix(str(am["mediaType"]), "image/") || str(am["type"]) == "Image" {
			f.PostPreview = idOf(am["url"])
			break
		}
	}
	for _, tg := range list(note["tag"]) {
		tm, _ := tg.(map[string]any)
		if str(tm["type"]) == "Hashtag" && strings.EqualFold(strings.TrimPrefix(str(tm["name"]), "#"), "owncast") {
			f.LiveAt = &now
		}
	}
	for _, u := range []*string{&f.PostURL, &f.PostPreview} {
		if p, err := url.Parse(*u); err != nil || (p.Scheme != "https" && p.Scheme != "http") {
			*u = "" // only web links reach the page
		}
	}
	return s.st.PutFollowing(ctx, f)
}

// LiveWindow is how long a followed server counts as live after its
// go-live post.
func (s *Service) LiveWindow() time.Duration { return s.cfg.LiveWindow }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }
