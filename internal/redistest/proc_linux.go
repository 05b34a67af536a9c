package redistest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a server if the test binary dies
// without running its cleanups (a panic, a timeout, ^C), so no redis-server
// outlives its test holding a port.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
