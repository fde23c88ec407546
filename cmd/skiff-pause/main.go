// Command skiff-pause is the infra container of every pod: it holds the pod's
// namespaces open, reaps the zombies that get reparented to it when it runs as
// PID 1 of a shared PID namespace, and exits cleanly when asked to.
//
// It is never installed on its own; internal/pause embeds a reproducible build
// of it. Only os/signal and syscall are used so that the binary stays small.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Buffered so that a burst of signals is not dropped while reaping; lost
	// SIGCHLDs would not matter anyway because reap collects every zombie.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGINT, syscall.SIGTERM)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has already exited. SIGCHLDs coalesce, so one
// signal can stand for many children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
