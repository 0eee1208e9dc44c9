package recording

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
	"github.com/hearth-community/hearth/internal/ratelimit"
)

// A download's remux (once per recording: the MP4 is kept) and a clip's
// cut each run an ffmpeg, and a public stage's recordings may be
// downloaded without an account: unbounded, clients asking for many
// recordings side by side started one ffmpeg (tens of MiB) each until the
// node ran out of memory.
// These jobs share a node-wide number of slots; a request waits a little
// for one, then is refused as unavailable with a Retry-After.

// defaultMaxJobs is the slots when Config.MaxJobs is unset: the jobs copy
// streams (no encode), so a few per core.
func defaultMaxJobs() int { return max(4, 2*runtime.NumCPU()) }

// errBusy is the refusal when every slot stayed taken for JobWait.
func errBusy(wait time.Duration) error {
	return &fault.Error{Kind: fault.Unavailable, RetryAfter: wait,
		Msg: "the server is busy with other downloads and clips; try again shortly"}
}

// JobsPerCaller is how many of those slots one caller (the address its
// surface names with ratelimit.WithTurnKey) holds or awaits at once: past
// it, its next download or clip is refused at once, as unavailable, so
// that one address downloading many long recordings side by side leaves
// the other slots to everyone else.
const JobsPerCaller = 2

// startJob takes a slot for one ffmpeg job, waiting up to JobWait (at
// once refused when ctx's caller holds JobsPerCaller); the caller runs
// the returned release when the job is over.
func (s *Service) startJob(ctx context.Context) (release func(), err error) {
	release, err = s.jobs.TakeFor(ctx)
	switch {
	case errors.Is(err, ratelimit.ErrNoTurn):
		return nil, errBusy(s.cfg.JobWait)
	case errors.Is(err, ratelimit.ErrOwnTurns):
		return nil, &fault.Error{Kind: fault.Unavailable, RetryAfter: s.cfg.JobWait,
			Msg: "your other downloads and clips are being made; try again once they are"}
	}
	return release, err
}
