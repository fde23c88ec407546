package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestReapCollectsZombies(t *testing.T) {
	var pids []int
	for range 3 {
		// The test binary with no test selected exits at once, leaving a zombie
		// because nobody waits for it.
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	for _, pid := range pids {
		waitZombie(t, pid)
	}

	reap()

	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("child %d still present after reap (stat err %v)", pid, err)
		}
	}
}

func TestReapWithoutChildrenReturns(t *testing.T) {
	done := make(chan struct{})
	go func() {
		reap()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("reap blocked with no children")
	}
}

func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatalf("read stat of child %d: %v", pid, err)
		}
		// The state follows the parenthesised command name, which may itself
		// contain spaces or parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("child %d did not exit", pid)
}
