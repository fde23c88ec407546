package kubelet

import (
	"bytes"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Limits of a termination message, upstream's.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
	// logTailWindow is how much of a log's end is read to find its last
	// lines.
	logTailWindow = 64 << 10
)

// terminationMessage is an exited container's message: the runtime's, then
// what the container wrote to its termination-message file or, under
// FallbackToLogsOnError after a failure with an empty file, its last log
// lines.
func terminationMessage(c *corev1.Container, cs *runtimeapi.ContainerStatus) string {
	msg := cs.GetMessage()
	path := cs.GetAnnotations()[annotationTerminationMessagePath]
	if path == "" {
		path = c.TerminationMessagePath
	}
	var own string
	if path != "" {
		for _, m := range cs.GetMounts() {
			if m.GetContainerPath() == path {
				own = readHead(m.GetHostPath(), maxTerminationMessage)
				break
			}
		}
	}
	policy := corev1.TerminationMessagePolicy(cs.GetAnnotations()[annotationTerminationMessagePolicy])
	if policy == "" {
		policy = c.TerminationMessagePolicy
	}
	if own == "" && policy == corev1.TerminationMessageFallbackToLogsOnError && cs.GetExitCode() != 0 {
		own = tailLog(cs.GetLogPath())
	}
	if own != "" {
		if msg != "" {
			msg += ": "
		}
		msg += own
	}
	return msg
}

func readHead(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, n))
	return string(data)
}

// tailLog returns the content of the last lines of a CRI log file
// ("<time> <stream> <P|F> <content>" per line), within upstream's limits.
func tailLog(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(fi.Size()-logTailWindow, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if start > 0 && len(lines) > 0 {
		lines = lines[1:] // cut mid-line
	}
	if len(lines) > fallbackLogLines {
		lines = lines[len(lines)-fallbackLogLines:]
	}
	var out bytes.Buffer
	for _, l := range lines {
		fields := bytes.SplitN(l, []byte(" "), 4)
		if len(fields) < 3 {
			continue
		}
		if len(fields) == 4 {
			out.Write(fields[3])
		}
		if !bytes.Equal(fields[2], []byte("P")) {
			out.WriteByte('\n')
		}
	}
	b := out.Bytes()
	if len(b) > fallbackLogBytes {
		b = b[len(b)-fallbackLogBytes:]
	}
	return string(b)
}
