// Package kubelet runs the pods bound to this node on a CRI runtime
// (containerd), as upstream's kubelet does: one worker per pod drives the
// runtime toward the pod's spec and reports what it sees in pods/status.
//
// Pods come from an informer the caller builds over the pods whose
// spec.nodeName is this node and starts itself; the kubelet registers its
// handlers on it in New and waits for it to sync in Run. A relist of the
// runtime every RelistPeriod (the "PLEG") wakes the worker of any pod whose
// sandboxes or containers changed, since containerd 1.6 sends no CRI events.
//
// Probes run apart from the workers, one goroutine per probe of each running
// container instance, and wake the pod's worker when a result changes; the
// worker then restarts what failed its liveness probe and reports readiness.
// Lifecycle hooks run within the sync that starts or stops their container.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// RuntimeService is the part of the CRI runtime service the kubelet uses;
// runtimeapi.RuntimeServiceClient satisfies it.
type RuntimeService interface {
	RunPodSandbox(ctx context.Context, in *runtimeapi.RunPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.RunPodSandboxResponse, error)
	StopPodSandbox(ctx context.Context, in *runtimeapi.StopPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error)
	RemovePodSandbox(ctx context.Context, in *runtimeapi.RemovePodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error)
	PodSandboxStatus(ctx context.Context, in *runtimeapi.PodSandboxStatusRequest, opts ...grpc.CallOption) (*runtimeapi.PodSandboxStatusResponse, error)
	ListPodSandbox(ctx context.Context, in *runtimeapi.ListPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error)
	CreateContainer(ctx context.Context, in *runtimeapi.CreateContainerRequest, opts ...grpc.CallOption) (*runtimeapi.CreateContainerResponse, error)
	StartContainer(ctx context.Context, in *runtimeapi.StartContainerRequest, opts ...grpc.CallOption) (*runtimeapi.StartContainerResponse, error)
	StopContainer(ctx context.Context, in *runtimeapi.StopContainerRequest, opts ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error)
	RemoveContainer(ctx context.Context, in *runtimeapi.RemoveContainerRequest, opts ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error)
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
	ContainerStatus(ctx context.Context, in *runtimeapi.ContainerStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error)
	ExecSync(ctx context.Context, in *runtimeapi.ExecSyncRequest, opts ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error)
}

// ImageService is the part of the CRI image service the kubelet uses;
// runtimeapi.ImageServiceClient satisfies it.
type ImageService interface {
	PullImage(ctx context.Context, in *runtimeapi.PullImageRequest, opts ...grpc.CallOption) (*runtimeapi.PullImageResponse, error)
	ImageStatus(ctx context.Context, in *runtimeapi.ImageStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error)
}

// DNSConfigurer returns the resolver configuration of a pod's sandbox; nil
// leaves it to the runtime (containerd then copies the host's resolv.conf).
type DNSConfigurer func(pod *corev1.Pod) (*runtimeapi.DNSConfig, error)

// Why a container could not start; sync errors wrap them.
var (
	// errImageNeverPull: the image is absent and the pull policy is Never.
	errImageNeverPull = errors.New("kubelet: image not present with pull policy Never")
	// errImagePull: pulling the image failed.
	errImagePull = errors.New("kubelet: image pull failed")
	// errConfig: the container's configuration cannot be built (a missing
	// ConfigMap key, runAsNonRoot violated, ...).
	errConfig = errors.New("kubelet: container configuration")
	// errPostStartHook: the container started but its postStart hook
	// failed, so it was killed.
	errPostStartHook = errors.New("kubelet: postStart hook failed")
)

const (
	defaultPodsDir        = "/var/lib/skiff/pods"
	defaultPodLogsDir     = "/var/log/pods"
	defaultClusterDomain  = "cluster.local"
	defaultResyncPeriod   = time.Minute
	defaultRelistPeriod   = time.Second
	defaultBackoffInitial = 10 * time.Second
	defaultBackoffMax     = 5 * time.Minute
	defaultBackoffReset   = 10 * time.Minute
)

// Config tunes the kubelet; zero values take the defaults noted.
type Config struct {
	// NodeName is this node's name (required).
	NodeName string
	// PodsDir holds one directory per pod UID: volumes, /etc/hosts and
	// termination-message files (default /var/lib/skiff/pods).
	PodsDir string
	// PodLogsDir holds the pods' log directories (default /var/log/pods).
	PodLogsDir string
	// HostIPs are the node's addresses, primary first: status.hostIP(s), and
	// the pod IPs of host-network pods.
	HostIPs []string
	// ClusterDomain names pods with a subdomain in their /etc/hosts
	// (default cluster.local).
	ClusterDomain string
	// NodeAllocatable stands in for a container's unset limits in
	// resourceFieldRef env vars, and its memory scales the oom_score_adj of
	// Burstable containers.
	NodeAllocatable corev1.ResourceList
	// ResyncPeriod wakes every pod worker even without changes (default 1m).
	ResyncPeriod time.Duration
	// RelistPeriod is how often the runtime is listed for changes (default 1s).
	RelistPeriod time.Duration
	// BackoffInitial is the first crash-loop and image-pull delay and the
	// retry delay of a failed sync (default 10s); each repeat doubles it up
	// to BackoffMax (default 5m).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// BackoffReset is how long a container must have run for its crash-loop
	// back-off to start over (default 10m).
	BackoffReset time.Duration
}

func (c Config) withDefaults() Config {
	if c.PodsDir == "" {
		c.PodsDir = defaultPodsDir
	}
	if c.PodLogsDir == "" {
		c.PodLogsDir = defaultPodLogsDir
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = defaultClusterDomain
	}
	if c.ResyncPeriod <= 0 {
		c.ResyncPeriod = defaultResyncPeriod
	}
	if c.RelistPeriod <= 0 {
		c.RelistPeriod = defaultRelistPeriod
	}
	if c.BackoffInitial <= 0 {
		c.BackoffInitial = defaultBackoffInitial
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = defaultBackoffMax
	}
	if c.BackoffMax < c.BackoffInitial {
		c.BackoffMax = c.BackoffInitial
	}
	if c.BackoffReset <= 0 {
		c.BackoffReset = defaultBackoffReset
	}
	return c
}

// Deps are the kubelet's collaborators.
type Deps struct {
	Runtime RuntimeService
	Images  ImageService
	// Client writes pod status, deletes terminated pods and reads the
	// ConfigMaps and Secrets pods refer to.
	Client kubernetes.Interface
	// Pods is an informer over the pods bound to this node (field selector
	// spec.nodeName=<NodeName>); the caller starts it.
	Pods cache.SharedIndexInformer
	// Recorder records pod events; nil discards them.
	Recorder record.EventRecorder
	// Clock is the time source; nil is the real clock.
	Clock clock.WithTicker
	// DNS configures sandboxes' resolvers; nil configures none.
	DNS DNSConfigurer
	// Services gives containers their service variables; nil gives none.
	// The caller starts its informer and waits for it to sync.
	Services ServiceLister
}

// Kubelet runs this node's pods.
type Kubelet struct {
	log      *slog.Logger
	runtime  RuntimeService
	images   ImageService
	client   kubernetes.Interface
	recorder record.EventRecorder
	clock    clock.WithTicker
	dns      DNSConfigurer
	services ServiceLister
	synced   cache.InformerSynced
	cfg      Config
	handlers *handlerRunner
	probes   *probeManager
	started  chan struct{}

	mu sync.Mutex
	// pods are the pods the informer holds, by UID.
	pods map[types.UID]*corev1.Pod
	// workers are the running pod workers, by UID.
	workers map[types.UID]*podWorker
	// runCtx is Run's context once Run started workers; before that, events
	// only update pods and Run starts the workers.
	runCtx context.Context
	wg     sync.WaitGroup

	// relisted is what the last relist saw, by pod UID; only the PLEG
	// goroutine touches it.
	relisted map[types.UID]string
}

// New returns a kubelet with its handlers registered on deps.Pods.
func New(log *slog.Logger, deps Deps, cfg Config) (*Kubelet, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("kubelet: config needs a node name")
	}
	if deps.Runtime == nil || deps.Images == nil || deps.Client == nil || deps.Pods == nil {
		return nil, errors.New("kubelet: needs a runtime service, an image service, a client and a pod informer")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Kubelet{
		log:      log.With("component", "kubelet"),
		runtime:  deps.Runtime,
		images:   deps.Images,
		client:   deps.Client,
		recorder: deps.Recorder,
		clock:    deps.Clock,
		dns:      deps.DNS,
		services: deps.Services,
		cfg:      cfg.withDefaults(),
		pods:     map[types.UID]*corev1.Pod{},
		workers:  map[types.UID]*podWorker{},
		relisted: map[types.UID]string{},
		started:  make(chan struct{}),
	}
	if k.recorder == nil {
		// A FakeRecorder without a channel drops events.
		k.recorder = &record.FakeRecorder{}
	}
	if k.clock == nil {
		k.clock = clock.RealClock{}
	}
	k.handlers = newHandlerRunner(k.runtime, k.clock)
	k.probes = newProbeManager(k.log, k.clock, k.recorder, k.handlers, k.wake)
	reg, err := deps.Pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.podAdded,
		UpdateFunc: k.podUpdated,
		DeleteFunc: k.podDeleted,
	})
	if err != nil {
		return nil, fmt.Errorf("kubelet: watch pods: %w", err)
	}
	k.synced = reg.HasSynced
	return k, nil
}

// Started is closed once Run has the node's pods from the API and runs
// their workers.
func (k *Kubelet) Started() <-chan struct{} { return k.started }

// Run waits for the pod informer, adopts what the runtime already runs and
// drives the pods until ctx ends; it returns once every worker stopped.
func (k *Kubelet) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	if !cache.WaitForCacheSync(ctx.Done(), k.synced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("kubelet: pod informer did not sync")
	}
	k.mu.Lock()
	k.runCtx = ctx
	for uid := range k.pods {
		k.wakeLocked(uid)
	}
	k.mu.Unlock()
	close(k.started)
	k.log.Info("kubelet started", "node", k.cfg.NodeName)

	var loops sync.WaitGroup
	loops.Go(func() { k.runPLEG(ctx) })
	loops.Go(func() { k.runResync(ctx) })
	<-ctx.Done()
	// No worker may start once the WaitGroup is being waited on.
	k.mu.Lock()
	k.runCtx = nil
	k.mu.Unlock()
	loops.Wait()
	k.wg.Wait()
	k.probes.stop()
	return nil
}

func (k *Kubelet) podAdded(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != k.cfg.NodeName {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods[pod.UID] = pod
	if w := k.workers[pod.UID]; w != nil {
		w.pod = pod
		if pod.DeletionTimestamp != nil {
			w.interruptLocked()
		}
	}
	k.wakeLocked(pod.UID)
}

// podUpdated wakes the pod's worker for a change of what the kubelet acts
// on. A change of the status alone, such as the kubelet's own writes,
// only refreshes the copy, as upstream's kubelet ignores such updates:
// waking for them would sync every pod once more per status write.
func (k *Kubelet) podUpdated(oldObj, curObj any) {
	old, ok := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok || !ok2 || !sameButStatus(old, cur) || cur.Spec.NodeName != k.cfg.NodeName {
		k.podAdded(curObj)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, known := k.pods[cur.UID]; !known {
		return
	}
	k.pods[cur.UID] = cur
	if w := k.workers[cur.UID]; w != nil {
		w.pod = cur
	}
}

// sameButStatus tells whether two versions of a pod differ in their status
// (and bookkeeping such as the resourceVersion) only.
func sameButStatus(a, b *corev1.Pod) bool {
	return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) &&
		maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) &&
		apiequality.Semantic.DeepEqual(a.DeletionTimestamp, b.DeletionTimestamp) &&
		apiequality.Semantic.DeepEqual(a.DeletionGracePeriodSeconds, b.DeletionGracePeriodSeconds) &&
		apiequality.Semantic.DeepEqual(a.OwnerReferences, b.OwnerReferences)
}

func (k *Kubelet) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.pods, pod.UID)
	w := k.workerLocked(pod.UID)
	if w == nil {
		return
	}
	w.pod = pod
	w.deleted = true
	w.interruptLocked()
	w.signal()
}

// wake wakes uid's worker if it runs; probes call it when a result
// changes.
func (k *Kubelet) wake(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w := k.workers[uid]; w != nil {
		w.signal()
	}
}

// runResync wakes every worker each ResyncPeriod, so that drift nobody
// reported (a ConfigMap edit, a status someone else overwrote) is repaired.
func (k *Kubelet) runResync(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		k.mu.Lock()
		for _, w := range k.workers {
			w.signal()
		}
		k.mu.Unlock()
	}
}

// ContainerStatus is the named container's status as the pod's copy from
// the API holds it, which the kubelet's own status writes keep current: the
// kubelet's HTTPS server reads which run ended last from it.
func (k *Kubelet) ContainerStatus(podUID, container string) (corev1.ContainerStatus, bool) {
	k.mu.Lock()
	pod := k.pods[types.UID(podUID)]
	k.mu.Unlock()
	if pod == nil {
		return corev1.ContainerStatus{}, false
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for _, st := range list {
			if st.Name == container {
				return st, true
			}
		}
	}
	return corev1.ContainerStatus{}, false
}
