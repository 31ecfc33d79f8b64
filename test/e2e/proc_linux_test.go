package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTests makes the kernel SIGKILL cmd when the test process dies
// (a panic or a -timeout), so no server or browser outlives a crashed run.
func dieWithTests(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
