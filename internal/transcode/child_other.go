//go:build !linux

package transcode

import "os/exec"

// DieWithParent does nothing where the kernel has no parent-death signal
// (Linux's PR_SET_PDEATHSIG): an ffmpeg fed through a pipe still ends when
// Hearth's end closes it; one reading files runs to its end.
func DieWithParent(cmd *exec.Cmd) {}
