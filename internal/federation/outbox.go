package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/webhooks"
)

// Post is what a public note says.
type Post struct {
	Text       string   // plain text; escaped into the note's HTML
	Title      string   // the stream title (go-live only)
	Tags       []string // hashtags (go-live only); #owncast is added
	Preview    string   // a preview image URL (go-live only)
	Sensitive  bool
	LiveNotice bool // a go-live post (adds the link to the stage)
}

// GoLive posts the go-live Create/Note for a local actor (the server
// actor when username is "") to all its followers. Federation off, or the
// go-live message empty (Owncast's way to turn the posts off): no-op.
func (s *Service) GoLive(ctx context.Context, username, title string) error {
	st := s.Settings()
	if !st.Enabled || st.ServerURL == "" || strings.TrimSpace(st.GoLiveMessage) == "" {
		return nil
	}
	if username == "" {
		username = st.Username
	}
	a, err := s.Local(ctx, username)
	if err != nil {
		return err
	}
	if title == "" && a.StageChannel == "" {
		title = st.StreamTitle
	}
	return s.post(ctx, st, a, Post{Text: st.GoLiveMessage, Title: title, Tags: st.Tags, Sensitive: st.NSFW, LiveNotice: true,
		Preview: preview(st, a)})
}

// SendPublic posts text as the server actor (/api/admin/federation/send).
func (s *Service) SendPublic(ctx context.Context, text string) error {
	st := s.Settings()
	if !st.Enabled {
		return fault.New(fault.Invalid, "federation is not enabled")
	}
	if st.ServerURL == "" {
		return fault.New(fault.Invalid, "set the server URL before posting")
	}
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 5000 {
		return fault.New(fault.Invalid, "the post must be 1 to 5000 bytes")
	}
	a, err := s.Local(ctx, st.Username)
	if err != nil {
		return err
	}
	return s.post(ctx, st, a, Post{Text: text, Sensitive: st.NSFW})
}

func (s *Service) post(ctx context.Context, st Settings, a *LocalActor, p Post) error {
	actor := s.actorIRI(st, a.Username)
	now := s.now().UTC()
	to, cc := []string{Public}, []string{actor + "/followers"}
	if st.Private {
		to, cc = []string{actor + "/followers"}, []string{}
	}
	var content strings.Builder
	content.WriteString("<p>" + html.EscapeString(p.Text) + "</p>")
	tags := []any{}
	if p.LiveNotice {
		if p.Title != "" {
			content.WriteString("<p>" + html.EscapeString(p.Title) + "</p>")
		}
		fmt.Fprintf(&content, `<p><a href="%s">%s</a></p>`, escapeAttr(a.Page), escapeText(a.Page))
		all := append(append([]string{}, p.Tags...), "owncast")
		var ht []string
		for _, t := range all {
			h, ok := hashtag(t)
			if !ok {
				continue
			}
			tags = append(tags, h)
			ht = append(ht, fmt.Sprintf(`<a class="hashtag" href="%s">%s</a>`, escapeAttr(str(h["href"])), escapeText(str(h["name"]))))
		}
		content.WriteString("<p>" + strings.Join(ht, " ") + "</p>")
	}
	noteID := uuid.NewString()
	note := map[string]any{
		"id":           s.objectIRI(st, noteID),
		"type":         "Note",
		"attributedTo": actor,
		"content":      content.String(),
		"published":    now.Format(time.RFC3339),
		"url":          s.objectIRI(st, noteID),
		"to":           to,
		"cc":           cc,
		"tag":          tags,
		"sensitive":    p.Sensitive,
	}
	if p.Preview != "" {
		note["attachment"] = []any{map[string]any{"type": "Document", "mediaType": "image/jpeg", "url": p.Preview,
			"name": "Video preview"}}
	}
	createID := uuid.NewString()
	create := map[string]any{
		"@context":  ContextAS,
		"id":        s.objectIRI(st, createID),
		"type":      "Create",
		"actor":     actor,
		"published": now.Format(time.RFC3339),
		"to":        to,
		"cc":        cc,
		"object":    note,
	}
	nb, _ := json.Marshal(withContext(note))
	cb, _ := json.Marshal(create)
	if err := s.st.AddOutbox(ctx, &OutboxItem{ID: noteID, Actor: a.Username, Type: "Note", Value: nb, CreatedAt: now}); err != nil {
		return err
	}
	if err := s.st.AddOutbox(ctx, &OutboxItem{ID: createID, Actor: a.Username, Type: "Create", Value: cb, CreatedAt: now}); err != nil {
		return err
	}
	inboxes, err := s.followerInboxes(ctx, a.Username)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, create, inboxes)
}

func withContext(m map[string]any) map[string]any {
	out := map[string]any{"@context": ContextAS}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// followerInboxes lists the distinct (shared, when advertised) inboxes of
// an actor's approved followers.
func (s *Service) followerInboxes(ctx context.Context, username string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for off := 0; ; off += 500 {
		fs, _, err := s.st.Followers(ctx, username, Approved, off, 500)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			in := f.SharedInbox
			if in == "" {
				in = f.Inbox
			}
			if in != "" && !seen[in] {
				seen[in] = true
				out = append(out, in)
			}
		}
		if len(fs) < 500 {
			return out, nil
		}
	}
}

// enqueue queues one delivery of activity per inbox on the delivery queue.
// Signing waits until each is sent, with the key of the activity's actor.
func (s *Service) enqueue(ctx context.Context, activity any, inboxes []string) error {
	if len(inboxes) == 0 {
		return nil
	}
	body, err := json.Marshal(activity)
	if err != nil {
		return err
	}
	for _, in := range inboxes {
		if !s.q.Enqueue(ctx, DeliveryKind, in, in, body) {
			return fmt.Errorf("federation: delivery to %s not queued", in)
		}
	}
	return nil
}

// deliveryKind is how the delivery queue sends federation's deliveries:
// through federation's egress client, signed (draft-cavage) with the key
// of the activity's actor, retried with doubling delays, and given up on
// when the inbox refuses for good (a 4xx other than 408 and 429) or its
// domain is blocked.
func (s *Service) deliveryKind() webhooks.Kind {
	return webhooks.Kind{
		Name:       DeliveryKind,
		Delays:     s.deliveryDelays(),
		Timeout:    15 * time.Second,
		MaxWaiting: s.cfg.PerInbox,
		KeepNewest: true,
		Client:     s.client,
		Sign:       s.signDelivery,
		Retry: func(err error) bool {
			var se *webhooks.StatusError
			if errors.As(err, &se) {
				return se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout || se.Code >= 500
			}
			var pe permanentError
			return !errors.As(err, &pe)
		},
		Report: func(_ context.Context, d *webhooks.Queued, n int, err error, final bool) {
			switch {
			case err == nil:
			case final:
				s.log.Warn("federation delivery failed; giving up", "inbox", d.URL, "attempts", n, "err", err)
			default:
				s.log.Debug("federation delivery failed; will retry", "inbox", d.URL, "attempt", n, "err", err)
			}
		},
	}
}

// deliveryDelays are the waits before each retry of a delivery: the
// first retry delay doubled each time, at most 6 hours.
func (s *Service) deliveryDelays() []time.Duration {
	delays := make([]time.Duration, 0, s.cfg.Attempts-1)
	for i := range s.cfg.Attempts - 1 {
		wait := s.cfg.Backoff << i
		if wait > 6*time.Hour || wait <= 0 {
			wait = 6 * time.Hour
		}
		delays = append(delays, wait)
	}
	return delays
}

// permanentError is a delivery that can never be sent (a blocked or
// unsafe inbox, an activity with no actor).
type permanentError struct{ why string }

func (e permanentError) Error() string { return "federation: " + e.why }

// signDelivery checks the inbox and signs a delivery's POST with the key
// of its activity's actor.
func (s *Service) signDelivery(ctx context.Context, d *webhooks.Queued, h http.Header, _ int, _ time.Time) error {
	if _, err := s.client.CheckURL(d.URL); err != nil {
		return permanentError{"inbox refused: " + err.Error()}
	}
	if u, err := url.Parse(d.URL); err != nil || blocked(s.Settings(), u.Hostname()) {
		return permanentError{"inbox domain blocked"}
	}
	var act struct {
		Actor string `json:"actor"`
	}
	if err := json.Unmarshal(d.Body, &act); err != nil || act.Actor == "" {
		return permanentError{"activity has no actor"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, nil)
	if err != nil {
		return permanentError{"bad inbox URL"}
	}
	req.Header = h
	h.Set("Content-Type", ContentType)
	h.Set("Accept", ContentType)
	return s.sign(ctx, req, act.Actor+"#main-key", d.Body)
}

// ProfileChanged sends an Update of the server actor to its followers
// (after the name, summary, logo, tags or links changed). Federation off
// or no followers: nothing is sent.
func (s *Service) ProfileChanged(ctx context.Context) error {
	st := s.Settings()
	if !st.Enabled || st.ServerURL == "" {
		return nil
	}
	actor, err := s.Actor(ctx, st.Username)
	if err != nil {
		return err
	}
	inboxes, err := s.followerInboxes(ctx, st.Username)
	if err != nil || len(inboxes) == 0 {
		return err
	}
	delete(actor, "@context")
	update := map[string]any{
		"@context": documentContext,
		"id":       s.objectIRI(st, uuid.NewString()),
		"type":     "Update",
		"actor":    s.actorIRI(st, st.Username),
		"to":       []string{Public},
		"object":   actor,
	}
	return s.enqueue(ctx, update, inboxes)
}

// ProfileKey is a digest of what followers see of the server actor: when
// it changes, ProfileChanged is due.
func ProfileKey(st Settings) string {
	b, _ := json.Marshal([]any{st.Enabled, st.Username, st.Name, st.Summary, st.Tags, st.Social, st.Private, st.LogoVersion})
	return string(b)
}

// preview is the go-live post's image: the default stage's thumbnail (a
// stage channel's is behind a signed URL, so its post has none).
func preview(st Settings, a *LocalActor) string {
	if a.StageChannel != "" {
		return ""
	}
	return st.ServerURL + "/thumbnail.jpg"
}
