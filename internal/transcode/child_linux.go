//go:build linux

package transcode

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel kill cmd's process when Hearth's ends
// (PR_SET_PDEATHSIG), a kill -9 included, which runs no cleanup: an ffmpeg
// reading files (a recording's MP4 remux, a clip's cut, a thumbnail) ran on
// to its end otherwise, beside the restarted node's own and outside its
// bound on ffmpegs, its output left for the sweep. Call it before Start.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
