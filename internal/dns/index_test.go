package dns

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// TestIndexFollowsChanges resolves through real informers over a fake
// clientset while the objects change.
func TestIndexFollowsChanges(t *testing.T) {
	web := service("default", "web", clusterIP("10.96.0.20"), port("http", corev1.ProtocolTCP, 80))
	web.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
	db := service("default", "db", headless)
	dbSlice := endpointSlice("default", "db", "db-1", discoveryv1.AddressTypeIPv4, nil,
		endpointAt("10.1.0.1", "", true), endpointAt("10.1.0.2", "", false))
	client := fake.NewClientset(namespace("default"), web, db, dbSlice)
	factory := informers.NewSharedInformerFactory(client, 0)
	idx, synced, err := newInformerIndex(factory)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("caches did not sync")
	}
	r := newResolver("cluster.local", 5, idx)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// eventually waits until name's answer of qtype is want, and the name
	// exists (NOERROR) or not (NXDOMAIN, or for a reverse name, not the
	// cluster's).
	eventually := func(step, name string, qtype uint16, wantExists bool, want ...string) {
		t.Helper()
		var got []string
		var exists bool
		err := wait.PollUntilContextTimeout(ctx, 2*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
			res, ok := r.resolve(dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET})
			exists = ok && res.rcode == dns.RcodeSuccess
			got = nil
			for _, rr := range res.answer {
				got = append(got, records([]dns.RR{rr})[0])
			}
			slices.Sort(got)
			return exists == wantExists && cmp.Equal(want, got, cmpEmpty), nil
		})
		if err != nil {
			t.Fatalf("%s: %s %s: got %q (exists %v), want %q (exists %v)", step, name, dns.TypeToString[qtype], got, exists, want, wantExists)
		}
	}
	const (
		webName = "web.default.svc.cluster.local."
		dbName  = "db.default.svc.cluster.local."
	)
	eventually("initial", webName, dns.TypeA, true, webName+" A 10.96.0.20")
	eventually("initial", dbName, dns.TypeA, true, dbName+" A 10.1.0.1")
	if obj, _, _ := idx.services.GetByKey("default/web"); len(obj.(*corev1.Service).Annotations) != 0 {
		t.Error("annotations kept in the cache")
	}

	serial := idx.serial.Load()
	dbSlice = dbSlice.DeepCopy()
	dbSlice.Endpoints[1].Conditions.Ready = ptr.To(true)
	must(client.DiscoveryV1().EndpointSlices("default").Update(ctx, dbSlice, metav1.UpdateOptions{}))
	eventually("endpoint ready", dbName, dns.TypeA, true, dbName+" A 10.1.0.1", dbName+" A 10.1.0.2")
	if idx.serial.Load() <= serial {
		t.Errorf("serial %d did not grow from %d", idx.serial.Load(), serial)
	}

	dbSlice = dbSlice.DeepCopy()
	dbSlice.Endpoints = dbSlice.Endpoints[1:]
	must(client.DiscoveryV1().EndpointSlices("default").Update(ctx, dbSlice, metav1.UpdateOptions{}))
	eventually("endpoint gone", dbName, dns.TypeA, true, dbName+" A 10.1.0.2")
	eventually("endpoint gone", "1.0.1.10.in-addr.arpa.", dns.TypePTR, false)

	db = db.DeepCopy()
	db.Spec.Ports = []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}
	must(client.CoreV1().Services("default").Update(ctx, db, metav1.UpdateOptions{}))
	eventually("port added", "_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, true)

	web = web.DeepCopy()
	web.Spec.Type, web.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
	web.Spec.ClusterIP, web.Spec.ClusterIPs, web.Spec.Ports = "", nil, nil
	must(client.CoreV1().Services("default").Update(ctx, web, metav1.UpdateOptions{}))
	eventually("became ExternalName", webName, dns.TypeCNAME, true, webName+" CNAME example.com.")
	eventually("became ExternalName", "20.0.96.10.in-addr.arpa.", dns.TypePTR, false)

	must(client.CoreV1().Services("default").Create(ctx,
		service("default", "api", clusterIP("10.96.0.30")), metav1.CreateOptions{}))
	eventually("created", "api.default.svc.cluster.local.", dns.TypeA, true, "api.default.svc.cluster.local. A 10.96.0.30")
	eventually("created", "30.0.96.10.in-addr.arpa.", dns.TypePTR, true, "30.0.96.10.in-addr.arpa. PTR api.default.svc.cluster.local.")

	if err := client.CoreV1().Services("default").Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("deleted", "api.default.svc.cluster.local.", dns.TypeA, false)
	eventually("deleted", "30.0.96.10.in-addr.arpa.", dns.TypePTR, false)

	eventually("namespace missing", "later.svc.cluster.local.", dns.TypeA, false)
	must(client.CoreV1().Namespaces().Create(ctx, namespace("later"), metav1.CreateOptions{}))
	eventually("namespace created", "later.svc.cluster.local.", dns.TypeA, true)
}
