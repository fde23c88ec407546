package scheduler

import "testing"

func TestFitErrorMessage(t *testing.T) {
	cases := []struct {
		name string
		fe   FitError
		want string
	}{
		{
			name: "upstream example",
			fe: FitError{NumAllNodes: 3, Reasons: map[string]int{
				"node(s) had untolerated taint {node.kubernetes.io/unreachable: }": 2,
				"Insufficient cpu": 1,
			}, PostFilterMsg: preemptionMessage(3, map[string]int{preemptionNotHelpful: 3})},
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name: "counts sort as strings",
			fe:   FitError{NumAllNodes: 12, Reasons: map[string]int{"Insufficient memory": 2, "Insufficient cpu": 10}},
			want: "0/12 nodes are available: 10 Insufficient cpu, 2 Insufficient memory.",
		},
		{
			name: "no reasons",
			fe:   FitError{NumAllNodes: 0},
			want: "0/0 nodes are available:",
		},
		{
			name: "post filter message keeps one period",
			fe:   FitError{NumAllNodes: 1, Reasons: map[string]int{"Too many pods": 1}, PostFilterMsg: msgPreemptionNever},
			want: "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to preemptionPolicy=Never.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fe.Error(); got != tc.want {
				t.Fatalf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
