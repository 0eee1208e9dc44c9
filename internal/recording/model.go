// Package recording keeps every broadcast of a stage that records: the
// source rendition's segments, as the live origin cuts them, are linked
// (or copied) into the recording's directory and listed in an HLS VOD
// playlist, with no second encode. It owns recordings, clips cut from
// them, per-stage settings and retention. It knows no wire format: the
// Hearth API surface renders its types.
package recording

import (
	"context"
	"time"
)

// Recording is one kept broadcast (or several, when the publisher
// reconnected within the reconnect window).
type Recording struct {
	ID         string
	StageID    string
	Title      string
	StartedAt  time.Time
	EndedAt    *time.Time // nil while recording
	Duration   time.Duration
	Size       int64
	Pinned     bool
	NodeID     string    // the node writing it while open
	LeaseUntil time.Time // another node may close it after this
}

// Clip is a short MP4 cut from a recording.
type Clip struct {
	ID          string
	StageID     string
	RecordingID string
	Title       string
	Offset      time.Duration // from the recording's start
	Duration    time.Duration
	Size        int64
	CreatedBy   string
	CreatedAt   time.Time
	NodeID      string // the node holding its MP4 ("": cut before clips named theirs)
	// MessageID is the chat message that announced it in its stage
	// channel ("": none was posted, or it was cut before clips kept theirs).
	MessageID string
}

// StageSettings are a stage's recording settings. Enabled nil follows the
// instance default; a zero limit is no limit.
type StageSettings struct {
	StageID  string
	Enabled  *bool
	MaxAge   time.Duration
	MaxCount int
	MaxBytes int64
}

// Store is what the service needs from persistence.
type Store interface {
	CreateRecording(ctx context.Context, r *Recording) error
	Recording(ctx context.Context, id string) (*Recording, error)
	// Recordings lists a stage's recordings, newest first ("" = all).
	Recordings(ctx context.Context, stageID string) ([]*Recording, error)
	UpdateRecording(ctx context.Context, r *Recording) error
	DeleteRecording(ctx context.Context, id string) error
	OpenRecordings(ctx context.Context) ([]*Recording, error)

	CreateClip(ctx context.Context, c *Clip) error
	Clip(ctx context.Context, id string) (*Clip, error)
	// Clips lists a stage's clips, newest first ("" = all).
	Clips(ctx context.Context, stageID string) ([]*Clip, error)
	// SetClipMessage records the chat message that announced a clip
	// (NotFound when the clip is gone).
	SetClipMessage(ctx context.Context, id, messageID string) error
	// DeleteClip removes a clip and returns its MessageID as the row
	// deleted held it (NotFound: no such clip).
	DeleteClip(ctx context.Context, id string) (messageID string, err error)
	// TakeClip charges one clip to account's budget of burst clips, one
	// back every every, shared by every node of the deployment. When the
	// budget is spent it charges nothing and returns false and how long
	// until a clip is back.
	TakeClip(ctx context.Context, account string, burst int, every time.Duration, now time.Time) (ok bool, retry time.Duration, err error)

	// RecordingSettings returns a stage's settings (defaults when none).
	RecordingSettings(ctx context.Context, stageID string) (*StageSettings, error)
	AllRecordingSettings(ctx context.Context) ([]*StageSettings, error)
	SetRecordingSettings(ctx context.Context, s *StageSettings) error

	// ClaimJob reports whether this call is the first to claim key.
	ClaimJob(ctx context.Context, key string, at time.Time) (bool, error)
	PruneJobClaims(ctx context.Context, before time.Time) error
}
