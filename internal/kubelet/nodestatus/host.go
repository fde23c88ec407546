package nodestatus

// host reads the machine the node runs on; tests fake it.
type host interface {
	// numCPU is the number of CPUs this process may use.
	numCPU() int
	system() (systemInfo, error)
	memory() (memoryInfo, error)
	filesystem(path string) (fsInfo, error)
	processes() (processInfo, error)
}

// systemInfo identifies the machine and its software.
type systemInfo struct {
	machineID     string
	systemUUID    string
	bootID        string
	kernelVersion string
	osImage       string
}

// memoryInfo is in bytes.
type memoryInfo struct {
	total     uint64
	available uint64
}

// fsInfo is in bytes; available is what unprivileged writers may still use.
type fsInfo struct {
	capacity  uint64
	available uint64
}

// processInfo counts tasks (threads), the unit of the kernel's PID limit.
type processInfo struct {
	running uint64
	max     uint64
}
