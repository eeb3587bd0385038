package front

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes RIE receive SIGTERM when the test process dies
// without stopping it (a panic in another test skips TestMain's cleanup);
// RIE then kills its runtime.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
