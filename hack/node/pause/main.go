// pause is the pod sandbox's only process: it holds the pod's namespaces open, reaps orphaned
// children (it is PID 1 when the pod shares its process namespace) and exits on SIGINT/SIGTERM.
// The node tier builds it locally because no registry (and so no registry's pause image) is
// reachable from CI.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
