package server

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// embeddedEtcd is a single-member etcd on loopback inside the server process.
type embeddedEtcd struct {
	etcd *embed.Etcd
	url  string // the client URL on loopback
}

func startEtcd(ctx context.Context, dir string, clientPort, peerPort int) (*embeddedEtcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	cfg.Dir = filepath.Join(dir, "etcd")
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// A lone member needs no election timeout: it is leader as soon as it starts.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd not ready after 60s")
	}
	return &embeddedEtcd{etcd: e, url: client.String()}, nil
}

func (e *embeddedEtcd) Err() <-chan error { return e.etcd.Err() }

// clients returns the clients the storage layer uses. Reads and writes call
// the member in process, skipping gRPC's encoding, HTTP/2 and the loopback
// socket, which on a busy control plane cost more than etcd's own work.
// Watches go through the socket: etcd's in-process watch adapter passes
// messages over unbuffered channels in both directions and deadlocks when
// many watches are cancelled at once, as they are at shutdown.
func (e *embeddedEtcd) clients() (kv, watch *clientv3.Client, err error) {
	watch, err = newEtcdClient([]string{e.url})
	if err != nil {
		return nil, nil, err
	}
	return v3client.New(e.etcd.Server), watch, nil
}

func (e *embeddedEtcd) Close() { e.etcd.Close() }

func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	return c, nil
}
