// Package integration drives an in-process Skiff server through client-go and
// real kubectl binaries, the way users reach it.
package integration

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// ports are the loopback ports one server uses; a restart reuses them so the
// kubeconfig and etcd's advertised peer URL stay valid.
type ports struct{ https, etcdClient, etcdPeer int }

type testServer struct {
	dataDir   string
	ports     ports
	cache     watchcache.Config
	etcd      []string
	tokenFile string
	// controllers runs the scheduler and controllers; the API suites leave
	// them off so that nothing but the test writes objects.
	controllers bool
	ctrlConfig  server.ControllerConfig
	kubeconfig  string
	config      *rest.Config
	// client is client-go's default clientset, which speaks protobuf to
	// built-in types; jsonClient forces JSON as kubectl does.
	client     kubernetes.Interface
	jsonClient kubernetes.Interface
	dynamic    dynamic.Interface
	stop       func()
}

type serverOption func(*testServer)

func withCache(c watchcache.Config) serverOption { return func(s *testServer) { s.cache = c } }

func withPorts(p ports) serverOption { return func(s *testServer) { s.ports = p } }

// withControllers runs the scheduler and the controllers.
func withControllers() serverOption { return func(s *testServer) { s.controllers = true } }

// withControllerConfig runs the controllers with shortened timeouts.
func withControllerConfig(c server.ControllerConfig) serverOption {
	return func(s *testServer) { s.controllers, s.ctrlConfig = true, c }
}

// withTokenFile accepts the bearer tokens of an upstream-format CSV file.
func withTokenFile(path string) serverOption { return func(s *testServer) { s.tokenFile = path } }

// withExternalEtcd stores the cluster in an etcd the test started.
func withExternalEtcd(endpoints []string) serverOption {
	return func(s *testServer) { s.etcd = endpoints }
}

// startServer runs a server on dataDir until the test ends (or stop is called)
// and returns clients for it.
func startServer(t *testing.T, dataDir string, opts ...serverOption) *testServer {
	t.Helper()
	ts := &testServer{dataDir: dataDir}
	for _, o := range opts {
		o(ts)
	}
	if ts.ports == (ports{}) {
		ts.ports = ports{https: freePort(t), etcdClient: freePort(t), etcdPeer: freePort(t)}
	}
	srv, err := server.New(nil, server.Config{
		DataDir: dataDir, HTTPSPort: ts.ports.https,
		EtcdClientPort: ts.ports.etcdClient, EtcdPeerPort: ts.ports.etcdPeer,
		EtcdEndpoints: ts.etcd, Cache: ts.cache, TokenAuthFile: ts.tokenFile,
		DisableControllerManager: !ts.controllers, Controllers: ts.ctrlConfig,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("server.Run returned: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
	}
	t.Cleanup(ts.stop)
	select {
	case <-srv.Ready():
	case err := <-done:
		stopped = true
		t.Fatalf("server exited before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("server not ready after 60s")
	}
	ts.kubeconfig = srv.KubeconfigPath()
	ts.config, err = clientcmd.BuildConfigFromFlags("", ts.kubeconfig)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	ts.config.QPS, ts.config.Burst = 1000, 1000
	if ts.client, err = kubernetes.NewForConfig(ts.config); err != nil {
		t.Fatalf("clientset: %v", err)
	}
	jsonConfig := rest.CopyConfig(ts.config)
	jsonConfig.ContentType = "application/json"
	if ts.jsonClient, err = kubernetes.NewForConfig(jsonConfig); err != nil {
		t.Fatalf("json clientset: %v", err)
	}
	if ts.dynamic, err = dynamic.NewForConfig(ts.config); err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	return ts
}

// restart stops the server and starts a new one on the same data dir and ports.
func (ts *testServer) restart(t *testing.T) *testServer {
	t.Helper()
	ts.stop()
	opts := []serverOption{withPorts(ts.ports), withCache(ts.cache), withExternalEtcd(ts.etcd)}
	if ts.controllers {
		opts = append(opts, withControllers())
	}
	return startServer(t, ts.dataDir, opts...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
