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

// startJob takes a slot for one ffmpeg job, waiting up to JobWait; the
// caller runs the returned release when the job is over.
func (s *Service) startJob(ctx context.Context) (release func(), err error) {
	release, err = s.jobs.Take(ctx)
	if errors.Is(err, ratelimit.ErrNoTurn) {
		return nil, errBusy(s.cfg.JobWait)
	}
	return release, err
}
