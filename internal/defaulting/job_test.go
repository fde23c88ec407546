package defaulting

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
)

func TestJobCompletionsAndParallelism(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name                          string
		completions, parallelism      *int32
		wantCompletions, wantParallel *int32
	}{
		{name: "neither set", wantCompletions: i32(1), wantParallel: i32(1)},
		{name: "only completions", completions: i32(5), wantCompletions: i32(5), wantParallel: i32(1)},
		{name: "only parallelism leaves completions unset", parallelism: i32(3), wantParallel: i32(3)},
		{name: "both set", completions: i32(4), parallelism: i32(2), wantCompletions: i32(4), wantParallel: i32(2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &batchv1.Job{Spec: batchv1.JobSpec{Completions: tc.completions, Parallelism: tc.parallelism}}
			Default(job)
			if !equalPtr(job.Spec.Completions, tc.wantCompletions) || !equalPtr(job.Spec.Parallelism, tc.wantParallel) {
				t.Errorf("completions=%v parallelism=%v, want %v and %v",
					deref(job.Spec.Completions), deref(job.Spec.Parallelism), deref(tc.wantCompletions), deref(tc.wantParallel))
			}
		})
	}
}

func TestJobSelectorNeedsUID(t *testing.T) {
	job := &batchv1.Job{}
	job.Name = "pending"
	Default(job)
	if job.Spec.Selector != nil || job.Spec.Template.Labels != nil {
		t.Fatalf("selector generated without a UID: %v / %v", job.Spec.Selector, job.Spec.Template.Labels)
	}
	job.UID = "u-1"
	Default(job)
	if got := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; got != "u-1" {
		t.Errorf("selector controller-uid = %q, want u-1", got)
	}
	if got := job.Spec.Template.Labels[batchv1.JobNameLabel]; got != "pending" {
		t.Errorf("template job-name label = %q, want pending", got)
	}
}

func equalPtr(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}
