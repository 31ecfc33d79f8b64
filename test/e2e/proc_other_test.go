//go:build !linux

package e2e

import "os/exec"

// dieWithTests is Linux-only (Pdeathsig); elsewhere cleanup relies on t.Cleanup.
func dieWithTests(cmd *exec.Cmd) {}
