package proxy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

const (
	benchServices  = 1000
	benchEndpoints = 10
)

// benchWorld has n ClusterIP services with m endpoints each.
func benchWorld(n, m int) *world {
	w := newWorld()
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		w.put(service(name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)), benchSlice(name, i, 0, m))
	}
	return w
}

// benchSlice returns service i's slice; generation shifts its last endpoint.
func benchSlice(name string, i, generation, m int) *discoveryv1.EndpointSlice {
	var eps []discoveryv1.Endpoint
	for j := range m {
		if j == m-1 {
			j += generation
		}
		eps = append(eps, ep(fmt.Sprintf("10.%d.%d.%d", 128+j, i/250, i%250+1)))
	}
	return slice(name, name+"-1", eps...)
}

// benchNFT returns the nftables of a fresh namespace when the machine allows,
// else a fake, and which one it is.
func benchNFT(b *testing.B) (knftables.Interface, string) {
	if rootReason() != "" {
		return knftables.NewFake(knftables.IPv4Family, DefaultTable), "fake"
	}
	_, path := newNetns(b, "bench")
	return newNsNFT(b, path), "nft-1.0.6-in-netns"
}

// BenchmarkFullSync builds the rules of 1,000 services with 10 endpoints
// each and applies them in one transaction: from scratch (agent start on a
// clean node) and over an existing table (restart after a crash, repair).
func BenchmarkFullSync(b *testing.B) {
	for _, replace := range []bool{false, true} {
		name := "scratch"
		if replace {
			name = "replace"
		}
		b.Run(name, func(b *testing.B) {
			nft, kind := benchNFT(b)
			b.Logf("applying to %s", kind)
			c := newRuleConfig(ipv4, testConfig())
			w := benchWorld(benchServices, benchEndpoints)
			var build, apply time.Duration
			ops := 0
			for b.Loop() {
				if !replace {
					b.StopTimer()
					tx := nft.NewTransaction()
					tx.Add(&knftables.Table{})
					tx.Delete(&knftables.Table{})
					if err := nft.Run(b.Context(), tx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				start := time.Now()
				desired := w.all(&c)
				tx := nft.NewTransaction()
				newRuleset(c).full(tx, desired)
				built := time.Now()
				if err := nft.Run(b.Context(), tx); err != nil {
					b.Fatal(err)
				}
				build += built.Sub(start)
				apply += time.Since(built)
				ops = tx.NumOperations()
			}
			n := float64(b.N)
			b.ReportMetric(float64((build+apply).Milliseconds())/n, "ms/sync")
			b.ReportMetric(float64(build.Milliseconds())/n, "build-ms/sync")
			b.ReportMetric(float64(apply.Milliseconds())/n, "apply-ms/sync")
			b.ReportMetric(float64(ops), "ops/tx")
		})
	}
}

// BenchmarkEndpointChange measures one endpoint change among 1,000 services
// with 10 endpoints: rebuilding that service's rules, writing the diff and
// applying it. Stale chains are deleted outside the timing, as the proxy
// does in a later sync.
func BenchmarkEndpointChange(b *testing.B) {
	nft, kind := benchNFT(b)
	b.Logf("applying to %s", kind)
	c := newRuleConfig(ipv4, testConfig())
	w := benchWorld(benchServices, benchEndpoints)
	rs := newRuleset(c)
	tx := nft.NewTransaction()
	rs.full(tx, w.all(&c))
	if err := nft.Run(b.Context(), tx); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	ops := 0
	now := t0
	i := 0
	for b.Loop() {
		i++
		svc := (i * 7919) % benchServices
		name := fmt.Sprintf("svc-%d", svc)
		key := w.put(benchSlice(name, svc, i, benchEndpoints))[0]
		now = now.Add(10 * time.Millisecond)

		start := time.Now()
		tx := nft.NewTransaction()
		rs.update(tx, map[string]*svcRules{key: w.rules(&c, key)}, now)
		if err := nft.Run(b.Context(), tx); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		ops = max(ops, tx.NumOperations())

		if i%100 == 0 {
			b.StopTimer()
			tx := nft.NewTransaction()
			if rs.deleteStale(tx, now.Add(staleChainDelay)) {
				if err := nft.Run(b.Context(), tx); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
	}
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(ops), "max-ops/tx")
}
