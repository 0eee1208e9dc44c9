package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearth-community/hearth/internal/fault"
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
// actor when username is "") to all its followers. Federation off: no-op.
func (s *Service) GoLive(ctx context.Context, username, title string) error {
	st := s.Settings()
	if !st.Enabled || st.ServerURL == "" {
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
			h := hashtag(t)
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
	return s.enqueue(ctx, st, a.Username, create, inboxes)
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

// enqueue stores one delivery per inbox and wakes the sender.
func (s *Service) enqueue(ctx context.Context, st Settings, username string, activity any, inboxes []string) error {
	if len(inboxes) == 0 {
		return nil
	}
	body, err := json.Marshal(activity)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ds := make([]*Delivery, 0, len(inboxes))
	for _, in := range inboxes {
		ds = append(ds, &Delivery{ID: uuid.NewString(), Inbox: in, KeyID: s.keyID(st, username), Body: body, NextAt: now, CreatedAt: now})
	}
	if err := s.st.Enqueue(ctx, ds, s.cfg.PerInbox); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run sends queued deliveries until ctx ends. Every node may run it: a
// delivery is claimed (leased) by one node at a time, so it is sent once
// per cluster, and a node that dies mid-send leaves it to be retried when
// the lease runs out.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		s.drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// drain sends every due delivery.
func (s *Service) drain(ctx context.Context) {
	for ctx.Err() == nil {
		now := s.now().UTC()
		ds, err := s.st.Claim(ctx, now, now.Add(2*time.Minute), 32)
		if err != nil {
			s.log.Warn("claim deliveries", "err", err)
			return
		}
		if len(ds) == 0 {
			return
		}
		sem := make(chan struct{}, s.cfg.Workers)
		var wg sync.WaitGroup
		for _, d := range ds {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.deliver(ctx, d)
			}()
		}
		wg.Wait()
	}
}

// permanentError is a delivery the remote refused for good (4xx).
type permanentError struct{ status int }

func (e permanentError) Error() string { return fmt.Sprintf("inbox answered %d", e.status) }

func (s *Service) deliver(ctx context.Context, d *Delivery) {
	err := s.send(ctx, d)
	bg := context.WithoutCancel(ctx)
	if err == nil {
		if err := s.st.DeliveryDone(bg, d.ID); err != nil {
			s.log.Warn("record delivery", "err", err)
		}
		return
	}
	attempts := d.Attempts + 1
	if _, perm := err.(permanentError); perm || attempts >= s.cfg.Attempts {
		s.log.Warn("federation delivery failed; giving up", "inbox", d.Inbox, "attempts", attempts, "err", err)
		if err := s.st.DeliveryDone(bg, d.ID); err != nil {
			s.log.Warn("record delivery", "err", err)
		}
		return
	}
	wait := s.cfg.Backoff << (attempts - 1)
	if wait > 6*time.Hour || wait <= 0 {
		wait = 6 * time.Hour
	}
	s.log.Debug("federation delivery failed; will retry", "inbox", d.Inbox, "in", wait, "err", err)
	if err := s.st.DeliveryRetry(bg, d.ID, attempts, s.now().UTC().Add(wait)); err != nil {
		s.log.Warn("record delivery retry", "err", err)
	}
}

func (s *Service) send(ctx context.Context, d *Delivery) error {
	if _, err := s.client.CheckURL(d.Inbox); err != nil {
		return permanentError{status: 0}
	}
	if u, err := url.Parse(d.Inbox); err != nil || blocked(s.Settings(), u.Hostname()) {
		return permanentError{status: 0}
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.Inbox, bytes.NewReader(d.Body))
	if err != nil {
		return permanentError{}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", ContentType)
	if err := s.sign(ctx, req, d.KeyID, d.Body); err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return fmt.Errorf("inbox answered %d", resp.StatusCode)
	default:
		return permanentError{status: resp.StatusCode}
	}
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
	return s.enqueue(ctx, st, st.Username, update, inboxes)
}

// ProfileKey is a digest of what followers see of the server actor: when
// it changes, ProfileChanged is due.
func ProfileKey(st Settings) string {
	b, _ := json.Marshal([]any{st.Enabled, st.Username, st.Name, st.Summary, st.Tags, st.Social, st.Private})
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
