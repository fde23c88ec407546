package nodestatus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// procHost reads /proc, /sys and /etc of the machine.
type procHost struct{}

func (procHost) numCPU() int { return runtime.NumCPU() }

func (procHost) system() (systemInfo, error) {
	var s systemInfo
	// Containers and minimal images often lack a machine ID; dbus keeps
	// the older copy.
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if id, err := readTrimmed(p); err == nil && id != "" {
			s.machineID = id
			break
		}
	}
	// product_uuid is readable only by root and absent in many VMs.
	s.systemUUID = s.machineID
	if id, err := readTrimmed("/sys/class/dmi/id/product_uuid"); err == nil && id != "" {
		s.systemUUID = id
	}
	var err error
	if s.bootID, err = readTrimmed("/proc/sys/kernel/random/boot_id"); err != nil {
		return systemInfo{}, err
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return systemInfo{}, fmt.Errorf("uname: %w", err)
	}
	s.kernelVersion = utsString(u.Release[:])
	if s.osImage, err = osImage("/etc/os-release"); err != nil {
		return systemInfo{}, err
	}
	return s, nil
}

func (procHost) memory() (memoryInfo, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return memoryInfo{}, fmt.Errorf("read meminfo: %w", err)
	}
	defer f.Close()
	var m memoryInfo
	var haveTotal, haveAvailable bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "MemTotal:       16318436 kB"
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		var dst *uint64
		switch fields[0] {
		case "MemTotal:":
			dst, haveTotal = &m.total, true
		case "MemAvailable:":
			dst, haveAvailable = &m.available, true
		default:
			continue
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return memoryInfo{}, fmt.Errorf("meminfo %s: %w", fields[0], err)
		}
		if len(fields) > 2 && fields[2] == "kB" {
			v *= 1024
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return memoryInfo{}, fmt.Errorf("read meminfo: %w", err)
	}
	if !haveTotal || !haveAvailable {
		return memoryInfo{}, errors.New("meminfo: no MemTotal or MemAvailable")
	}
	return m, nil
}

func (procHost) filesystem(path string) (fsInfo, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsInfo{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bsize := uint64(st.Bsize)
	return fsInfo{capacity: st.Blocks * bsize, available: st.Bavail * bsize}, nil
}

func (procHost) processes() (processInfo, error) {
	// The fourth field of loadavg is "runnable/total" scheduling entities;
	// unlike sysinfo's 16-bit count it does not wrap.
	load, err := readTrimmed("/proc/loadavg")
	if err != nil {
		return processInfo{}, err
	}
	fields := strings.Fields(load)
	if len(fields) < 4 {
		return processInfo{}, fmt.Errorf("loadavg %q: too few fields", load)
	}
	_, total, ok := strings.Cut(fields[3], "/")
	if !ok {
		return processInfo{}, fmt.Errorf("loadavg %q: no task count", load)
	}
	running, err := strconv.ParseUint(total, 10, 64)
	if err != nil {
		return processInfo{}, fmt.Errorf("loadavg task count: %w", err)
	}
	pidMax, err := readTrimmed("/proc/sys/kernel/pid_max")
	if err != nil {
		return processInfo{}, err
	}
	limit, err := strconv.ParseUint(pidMax, 10, 64)
	if err != nil {
		return processInfo{}, fmt.Errorf("pid_max: %w", err)
	}
	return processInfo{running: running, max: limit}, nil
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// osImage is os-release's PRETTY_NAME; without the file the OS is just
// "Linux", as cAdvisor reports it.
func osImage(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "Linux", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return prettyName(b), nil
}

func prettyName(osRelease []byte) string {
	for line := range strings.Lines(string(osRelease)) {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			return uq
		}
		return strings.Trim(v, `'"`)
	}
	return "Linux"
}

// utsString converts a NUL-terminated utsname field, whose element type
// differs between architectures.
func utsString[T int8 | uint8](field []T) string {
	b := make([]byte, 0, len(field))
	for _, c := range field {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
