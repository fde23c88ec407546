package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolveFenceposts(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	cases := []struct {
		name           string
		surge, unavail *intstr.IntOrString
		desired        int32
		wantS, wantU   int32
		wantErr        bool
	}{
		{"defaults of 25% on 4", pct("25%"), pct("25%"), 4, 1, 1, false},
		{"surge rounds up, unavailable down", pct("25%"), pct("25%"), 10, 3, 2, false},
		{"both zero forces one unavailable", num(0), num(0), 5, 0, 1, false},
		{"percent rounding to zero", pct("10%"), pct("10%"), 3, 1, 0, false},
		{"absent values", nil, nil, 3, 0, 1, false},
		{"absolute", num(2), num(3), 10, 2, 3, false},
		{"bad percent", pct("x%"), nil, 3, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, u, err := resolveFenceposts(tc.surge, tc.unavail, tc.desired)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (s != tc.wantS || u != tc.wantU) {
				t.Errorf("got surge %d unavailable %d, want %d %d", s, u, tc.wantS, tc.wantU)
			}
		})
	}
}

func TestComputeHash(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a", "tier": "b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	one, two := int32(1), int32(2)
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "img:2"
	cases := []struct {
		name     string
		a, b     string
		wantSame bool
	}{
		{"stable", computeHash(tmpl, nil), computeHash(tmpl.DeepCopy(), nil), true},
		{"collision count changes hash", computeHash(tmpl, nil), computeHash(tmpl, &one), false},
		{"each collision count differs", computeHash(tmpl, &one), computeHash(tmpl, &two), false},
		{"template change changes hash", computeHash(tmpl, nil), computeHash(other, nil), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.wantSame {
				t.Errorf("hashes %q and %q: same=%v, want %v", tc.a, tc.b, tc.a == tc.b, tc.wantSame)
			}
			if strings.ContainsAny(tc.a, "aeiou") {
				t.Errorf("hash %q is not safe-encoded", tc.a)
			}
		})
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	base := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	withHash := *base.DeepCopy()
	withHash.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "abc"
	otherImage := *base.DeepCopy()
	otherImage.Spec.Containers[0].Image = "img:2"
	restarted := *base.DeepCopy()
	restarted.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
	cases := []struct {
		name string
		b    corev1.PodTemplateSpec
		want bool
	}{
		{"hash label ignored", withHash, true},
		{"image differs", otherImage, false},
		{"restart annotation differs", restarted, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := equalIgnoreHash(&base, &tc.b); got != tc.want {
				t.Errorf("equalIgnoreHash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := newDeployment("web", 3, "img:1")
	d.Annotations = map[string]string{
		"kubernetes.io/change-cause":       "kubectl set image",
		corev1.LastAppliedConfigAnnotation: "{}",
		RevisionAnnotation:                 "7",
	}
	cases := []struct {
		name        string
		annotations map[string]string
		newRevision string
		exists      bool
		want        map[string]string
	}{
		{
			name: "new replica set", annotations: nil, newRevision: "1",
			want: map[string]string{
				RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4",
				"kubernetes.io/change-cause": "kubectl set image",
			},
		},
		{
			name: "rollback keeps history", exists: true, newRevision: "5",
			annotations: map[string]string{RevisionAnnotation: "2", RevisionHistoryAnnotation: "1"},
			want: map[string]string{
				RevisionAnnotation: "5", RevisionHistoryAnnotation: "1,2",
				"kubernetes.io/change-cause": "kubectl set image",
			},
		},
		{
			name: "current revision unchanged", exists: true, newRevision: "3",
			annotations: map[string]string{RevisionAnnotation: "3"},
			want:        map[string]string{RevisionAnnotation: "3", "kubernetes.io/change-cause": "kubectl set image"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}}
			setNewReplicaSetAnnotations(d, rs, tc.newRevision, tc.exists)
			if len(rs.Annotations) != len(tc.want) {
				t.Errorf("annotations = %v, want %v", rs.Annotations, tc.want)
			}
			for k, v := range tc.want {
				if rs.Annotations[k] != v {
					t.Errorf("%s = %q, want %q", k, rs.Annotations[k], v)
				}
			}
		})
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	rs := func(n int32) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: &n}}
	}
	cases := []struct {
		name     string
		strategy appsv1.DeploymentStrategyType
		old, cur int32
		want     int32
	}{
		{"surge room", appsv1.RollingUpdateDeploymentStrategyType, 10, 0, 3},
		{"at surge limit", appsv1.RollingUpdateDeploymentStrategyType, 10, 3, 3},
		{"capped at desired", appsv1.RollingUpdateDeploymentStrategyType, 0, 8, 10},
		{"recreate takes all", appsv1.RecreateDeploymentStrategyType, 10, 0, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment("web", 10, "img")
			d.Spec.Strategy.Type = tc.strategy
			newRS := rs(tc.cur)
			got, err := newRSNewReplicas(d, []*appsv1.ReplicaSet{rs(tc.old), newRS}, newRS)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestAppendRevisionHistoryBounded(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}}
	for i := range 2000 {
		appendRevisionHistory(rs, strings.Repeat("9", 1+i%5))
	}
	if got := len(rs.Annotations[RevisionHistoryAnnotation]); got > maxRevisionHistoryChars {
		t.Errorf("history length %d > %d", got, maxRevisionHistoryChars)
	}
}
