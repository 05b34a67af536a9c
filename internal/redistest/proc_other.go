//go:build !linux

package redistest

import "os/exec"

// setProcAttr has nothing to add outside Linux: t.Cleanup stops servers.
func setProcAttr(*exec.Cmd) {}
