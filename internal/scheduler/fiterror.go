package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Filter reasons, worded as upstream's plugins word them so that users
// and tools matching kubectl describe output see the familiar text.
const (
	reasonUnschedulable      = "node(s) were unschedulable"
	reasonNodeName           = "node(s) didn't match the requested node name"
	reasonNodeAffinity       = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts              = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods        = "Too many pods"
	reasonAffinityRules      = "node(s) didn't match pod affinity rules"
	reasonAntiAffinityRules  = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAnti       = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonSpread             = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"

	preemptionNotHelpful = "Preemption is not helpful for scheduling"
	preemptionNoVictims  = "No preemption victims found for incoming pod"
)

func taintReason(key, value string) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", key, value)
}

func insufficientReason(resource string) string { return "Insufficient " + resource }

// FitError reports that a pod fits no node. Error() renders upstream's
// message: a histogram of filter reasons sorted as strings, then what
// preemption concluded.
type FitError struct {
	Pod         string // namespace/name
	NumAllNodes int
	// Reasons counts, per filter reason, the nodes that failed with it.
	Reasons map[string]int
	// PostFilterMsg is the preemption outcome, empty when preemption did
	// not run.
	PostFilterMsg string

	// unresolvable marks, by snapshot node index, the nodes that failed a
	// filter evicting pods cannot fix.
	unresolvable []bool
}

func (f *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", f.NumAllNodes)
	if len(f.Reasons) > 0 {
		b.WriteString(" ")
		b.WriteString(histogram(f.Reasons))
		b.WriteString(".")
	}
	if f.PostFilterMsg != "" {
		b.WriteString(" ")
		b.WriteString(f.PostFilterMsg)
		if !strings.HasSuffix(f.PostFilterMsg, ".") {
			b.WriteString(".")
		}
	}
	return b.String()
}

// histogram renders "N reason" entries sorted as plain strings, which is
// the (lexicographic, not numeric) order upstream uses.
func histogram(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// preemptionMessage renders preemption's verdict over numNodes nodes.
func preemptionMessage(numNodes int, counts map[string]int) string {
	if len(counts) == 0 {
		return fmt.Sprintf("preemption: 0/%d nodes are available", numNodes)
	}
	return fmt.Sprintf("preemption: 0/%d nodes are available: %s", numNodes, histogram(counts))
}
