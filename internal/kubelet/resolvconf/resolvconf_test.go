package resolvconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const hostFile = `# written by hand
nameserver 192.0.2.53
nameserver 192.0.2.54 ; second
search example.org corp.example.org
options edns0 timeout:2
`

func TestForPod(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(hostFile), 0o644); err != nil {
		t.Fatal(err)
	}
	two := "2"
	clusterSearch := []string{"web.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.org", "corp.example.org"}
	host := &runtimeapi.DNSConfig{
		Servers:  []string{"192.0.2.53", "192.0.2.54"},
		Searches: []string{"example.org", "corp.example.org"},
		Options:  []string{"edns0", "timeout:2"},
	}
	cluster := &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: clusterSearch, Options: []string{"ndots:5"}}
	tests := []struct {
		name       string
		clusterDNS []string
		spec       corev1.PodSpec
		want       *runtimeapi.DNSConfig
	}{
		{name: "ClusterFirst", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, want: cluster},
		{name: "empty policy is ClusterFirst", clusterDNS: []string{"10.43.0.10"}, want: cluster},
		{name: "ClusterFirst without cluster DNS is Default", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, want: host},
		{name: "host network with ClusterFirst is Default", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, HostNetwork: true}, want: host},
		{name: "ClusterFirstWithHostNet", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true}, want: cluster},
		{name: "Default", clusterDNS: []string{"10.43.0.10"}, spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, want: host},
		{name: "None with dnsConfig", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"198.51.100.1"}, Searches: []string{"a.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "rotate"}}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"198.51.100.1"}, Searches: []string{"a.example"}, Options: []string{"ndots:2", "rotate"}}},
		{name: "dnsConfig merges into ClusterFirst", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"10.43.0.10", "198.51.100.1"}, Searches: []string{"cluster.local", "b.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "198.51.100.1"},
				Searches: append(append([]string{}, clusterSearch...), "b.example"), Options: []string{"ndots:2"}}},
		{name: "at most three nameservers", clusterDNS: []string{"10.43.0.10"},
			spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "198.51.100.1", "198.51.100.2"}, Searches: clusterSearch, Options: []string{"ndots:5"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{ClusterDNS: tc.clusterDNS, HostResolvConf: path})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ForPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p"}, Spec: tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpDNS); diff != "" {
				t.Errorf("DNS config (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpDNS = cmp.Comparer(func(a, b *runtimeapi.DNSConfig) bool {
	return strings.Join(a.Servers, ",") == strings.Join(b.Servers, ",") &&
		strings.Join(a.Searches, ",") == strings.Join(b.Searches, ",") &&
		strings.Join(a.Options, ",") == strings.Join(b.Options, ",")
})

func TestSearchLimits(t *testing.T) {
	long := strings.Repeat("a", 250)
	var many []string
	for i := range 40 {
		many = append(many, long[:10+i])
	}
	if got := capSearches(many); len(got) != maxSearchPaths {
		t.Errorf("kept %d search paths, want %d", len(got), maxSearchPaths)
	}
	var big []string
	for range 10 {
		big = append(big, long)
	}
	got := capSearches(big)
	if n := len(strings.Join(got, " ")); n > maxSearchChars {
		t.Errorf("kept %d characters of search paths", n)
	}
	if len(got) != 8 {
		t.Errorf("kept %d paths of 251 characters, want 8", len(got))
	}
}

func TestMissingHostFile(t *testing.T) {
	c, err := New(Config{HostResolvConf: filepath.Join(t.TempDir(), "absent")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.ForPod(&corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}})
	if len(got.Servers) != 0 {
		t.Errorf("servers %v from a missing file", got.Servers)
	}
}
