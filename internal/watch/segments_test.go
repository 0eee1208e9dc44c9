package watch

import (
	"context"
	"testing"
	"time"
)

// chanPub hands published events to the test as they happen.
type chanPub chan Event

func (c chanPub) Publish(_ context.Context, _ string, data []byte) error {
	ev, err := DecodeEvent(data)
	if err != nil {
		return err
	}
	select {
	case c <- ev:
	default:
	}
	return nil
}

type segmentFunc func(ctx context.Context, id string) ([]Segment, error)

func (f segmentFunc) Segments(ctx context.Context, id string) ([]Segment, error) { return f(ctx, id) }

// TestSponsorBlockAutoSkip follows OpenTogetherTube's room tick: the
// segments of a YouTube video are fetched when it starts and synced as
// videoSegments; while playing, a segment of a category the room skips is
// jumped over with an eventcustom "Skipped <category>"; other categories
// play; a seek into a segment lets that segment play; a new video drops
// the segments.
func TestSponsorBlockAutoSkip(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	pub := make(chanPub, 1024)
	svc, err := New(Config{AllowTemp: true, Now: clock.Now, SyncDelay: time.Millisecond, SaveDelay: time.Hour, DisableUnload: true},
		&memStore{rooms: map[string]Record{}}, pub, fakeMedia{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan string, 10)
	svc.SetSegmentSource(segmentFunc(func(_ context.Context, id string) ([]Segment, error) {
		asked <- id
		return []Segment{
			{UUID: "s", Category: "sponsor", StartTime: 5, EndTime: 10, VideoDuration: 60},
			{UUID: "i", Category: "intro", StartTime: 20, EndTime: 25, VideoDuration: 60},
			{UUID: "o", Category: "outro", StartTime: 40, EndTime: 50, VideoDuration: 60},
		}, nil
	}))
	ctx := context.Background()
	r, err := svc.Create(ctx, CreateInput{Name: "skips", Temporary: true, AutoSkip: &[]string{"outro", "sponsor"}})
	if err != nil {
		t.Fatal(err)
	}
	a := anon("a")
	do := func(req Request) {
		t.Helper()
		if err := svc.Handle(ctx, r, a, "", req); err != nil {
			t.Fatalf("request %d: %v", req.Type, err)
		}
	}
	// held keeps the events tick read that were not its own: a sync the
	// segment fetch (its own goroutine) published while tick drained.
	var held []Event
	// waitSync reads events until a sync carrying f arrives.
	waitSync := func(f Fields) *Sync {
		t.Helper()
		for len(held) > 0 {
			ev := held[0]
			held = held[1:]
			if ev.Type == EvSync && ev.Sync.Fields.Has(f) {
				return ev.Sync
			}
		}
		timeout := time.After(hangGuard)
		for {
			select {
			case ev := <-pub:
				if ev.Type == EvSync && ev.Sync.Fields.Has(f) {
					return ev.Sync
				}
			case <-timeout:
				t.Fatalf("no sync with %b", f)
			}
		}
	}
	position := func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.clock.Position(clock.Now())
	}
	// tick runs one room tick and returns the eventcustom texts it sent.
	tick := func() []string {
		svc.Tick()
		var out []string
		for {
			select {
			case ev := <-pub:
				if ev.Type == EvCustom {
					out = append(out, ev.Text)
				} else {
					held = append(held, ev)
				}
			default:
				return out
			}
		}
	}

	do(Request{Type: ReqAdd, Video: &VideoRef{Service: "youtube", ID: "yt1"}})
	tick() // dequeues the video
	if id := <-asked; id != "yt1" {
		t.Fatalf("segments asked for %q", id)
	}
	if segs := waitSync(FieldSegments).Segments; len(segs) != 3 ||
		segs[0] != (Segment{UUID: "s", Category: "sponsor", StartTime: 5, EndTime: 10, VideoDuration: 60}) {
		t.Fatalf("videoSegments = %+v", segs)
	}
	do(Request{Type: ReqPlayback, State: ptr(true)})

	steps := []struct {
		name    string
		advance time.Duration
		seek    *float64
		skipped []string
		pos     float64
	}{
		{"a skipped category is jumped over", 6 * time.Second, nil, []string{"Skipped sponsor"}, 10},
		{"other categories play", 11 * time.Second, nil, nil, 21},
		{"a segment seeked into plays", time.Second, ptr(41.0), nil, 42},
		{"until its end", 9 * time.Second, nil, nil, 51},
		{"and is skipped again next time", 10 * time.Second, ptr(30.0), []string{"Skipped outro"}, 50},
	}
	for _, s := range steps {
		if s.seek != nil {
			do(Request{Type: ReqSeek, Value: s.seek})
		}
		clock.Add(s.advance)
		got := tick()
		if len(got) != len(s.skipped) || (len(got) > 0 && got[0] != s.skipped[0]) {
			t.Errorf("%s: notices %q, want %q", s.name, got, s.skipped)
		}
		if p := position(); p != s.pos {
			t.Errorf("%s: position %v, want %v", s.name, p, s.pos)
		}
	}

	// A video that is not on YouTube has no segments: skipping to it drops
	// them without asking SponsorBlock.
	do(Request{Type: ReqAdd, Video: ref("clip")})
	do(Request{Type: ReqSkip})
	if v := waitSync(FieldSegments).Segments; v == nil || len(v) != 0 {
		t.Fatalf("segments after the video changed: %+v", v)
	}
	select {
	case id := <-asked:
		t.Fatalf("segments asked for a direct video %q", id)
	default:
	}
}
