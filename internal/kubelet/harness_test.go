package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

const (
	testNode   = "node-1"
	testHostIP = "192.0.2.10"
	testImage  = "busybox:1.36"
)

var (
	// The generated gRPC clients and the fake satisfy the seams.
	_ RuntimeService = runtimeapi.RuntimeServiceClient(nil)
	_ ImageService   = runtimeapi.ImageServiceClient(nil)
	_ RuntimeService = (*fakecri.Runtime)(nil)
	_ ImageService   = (*fakecri.Runtime)(nil)
)

// harness is a kubelet over a fake runtime, a fake clientset and a fake
// clock. Tests drive syncs one at a time with sync, which reads the pod
// from the clientset as an up-to-date informer would deliver it.
type harness struct {
	t        *testing.T
	ctx      context.Context
	k        *Kubelet
	rt       *fakecri.Runtime
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	factory  informers.SharedInformerFactory
	workers  map[types.UID]*podWorker
	cfg      Config
	// probed receives the UID of a pod whenever one of its probe results
	// changed.
	probed chan types.UID
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	return newHarnessWith(t, fakecri.New(clk), clk, Config{}, objs...)
}

func newHarnessWith(t *testing.T, rt *fakecri.Runtime, clk *clocktesting.FakeClock, cfg Config, objs ...runtime.Object) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg.NodeName = testNode
	cfg.HostIPs = []string{testHostIP}
	if cfg.PodsDir == "" {
		cfg.PodsDir = dir + "/pods"
	}
	if cfg.PodLogsDir == "" {
		cfg.PodLogsDir = dir + "/logs"
	}
	client := fake.NewClientset(objs...)
	client.PrependReactor("update", "pods", apiStatusUpdate(client))
	factory := informers.NewSharedInformerFactory(client, 0)
	recorder := record.NewFakeRecorder(1000)
	k, err := New(nil, Deps{
		Runtime:  rt,
		Images:   rt,
		Client:   client,
		Pods:     factory.Core().V1().Pods().Informer(),
		Recorder: recorder,
		Clock:    clk,
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	probed := make(chan types.UID, 100)
	k.probes.changed = func(uid types.UID) {
		k.wake(uid)
		select {
		case probed <- uid:
		default:
		}
	}
	t.Cleanup(k.probes.stop)
	return &harness{
		t: t, ctx: t.Context(), k: k, rt: rt, client: client, clock: clk, recorder: recorder,
		factory: factory, workers: map[types.UID]*podWorker{}, cfg: k.cfg, probed: probed,
	}
}

// waitProbed waits for a probe result of pod to change.
func (h *harness) waitProbed(pod *corev1.Pod) {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case uid := <-h.probed:
			if uid == pod.UID {
				return
			}
		case <-timeout:
			h.t.Fatalf("no probe result of %s changed", pod.Name)
		}
	}
}

// noProbeChange fails the test if a probe result changed since the last
// waitProbed.
func (h *harness) noProbeChange() {
	h.t.Helper()
	select {
	case uid := <-h.probed:
		h.t.Fatalf("probe result of %s changed", uid)
	default:
	}
}

// apiStatusUpdate makes a pods/status update take only the status, as the
// API server does; the fake clientset would store the whole object, so a
// sync that read a pod before its deletion would undo the deletion.
func apiStatusUpdate(client *fake.Clientset) k8stesting.ReactionFunc {
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	return func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "status" {
			return false, nil, nil
		}
		upd := a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		cur, err := client.Tracker().Get(gvr, upd.Namespace, upd.Name)
		if err != nil {
			return true, nil, err
		}
		pod := cur.(*corev1.Pod).DeepCopy()
		pod.Status = upd.Status
		if err := client.Tracker().Update(gvr, pod, pod.Namespace); err != nil {
			return true, nil, err
		}
		return true, pod, nil
	}
}

// create stores pod in the API.
func (h *harness) create(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	out, err := h.client.CoreV1().Pods(pod.Namespace).Create(h.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) get(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	out, err := h.client.CoreV1().Pods(pod.Namespace).Get(h.ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// sync runs one sync of pod, as its worker would, and fails the test on
// an error unless allowErr.
func (h *harness) sync(pod *corev1.Pod) syncResult {
	h.t.Helper()
	res, err := h.trySync(pod)
	if err != nil {
		h.t.Fatalf("sync %s: %v", pod.Name, err)
	}
	return res
}

func (h *harness) trySync(pod *corev1.Pod) (syncResult, error) {
	h.t.Helper()
	w := h.workers[pod.UID]
	if w == nil {
		w = &podWorker{uid: pod.UID, podState: newPodState(h.cfg)}
		h.workers[pod.UID] = w
	}
	cur, err := h.client.CoreV1().Pods(pod.Namespace).Get(h.ctx, pod.Name, metav1.GetOptions{})
	if err != nil || cur.UID != pod.UID {
		return h.k.syncPod(h.ctx, w, pod, true)
	}
	return h.k.syncPod(h.ctx, w, cur, false)
}

// running returns the ID of pod's running container name.
func (h *harness) running(pod *corev1.Pod, name string) string {
	h.t.Helper()
	id := h.rt.Running(string(pod.UID), name)
	if id == "" {
		h.t.Fatalf("container %s of %s is not running; runtime has %v", name, pod.Name, h.rt.CallNames())
	}
	return id
}

// exit ends pod's running container name with code.
func (h *harness) exit(pod *corev1.Pod, name string, code int32) {
	h.t.Helper()
	if err := h.rt.Exit(h.running(pod, name), code, ""); err != nil {
		h.t.Fatal(err)
	}
}

// events drains the recorded events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// calls returns the recorded runtime calls of the given methods (all when
// none given) and forgets every call.
func (h *harness) calls(methods ...string) []string {
	var out []string
	for _, c := range h.rt.CallNames() {
		if len(methods) == 0 {
			out = append(out, c)
			continue
		}
		for _, m := range methods {
			if strings.HasPrefix(c, m+" ") {
				out = append(out, c)
			}
		}
	}
	h.rt.ResetCalls()
	return out
}

// newPod returns a pod bound to the test node with one container per
// name, all running testImage.
func newPod(name string, containers ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: "default",
			UID:       types.UID(name + "-uid"),
			Labels:    map[string]string{"app": name},
		},
		Spec: corev1.PodSpec{
			NodeName:                      testNode,
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC)),
			}},
		},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, container(c))
	}
	return pod
}

func container(name string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    testImage,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

func resources(req, lim string) corev1.ResourceRequirements {
	parse := func(s string) corev1.ResourceList {
		if s == "" {
			return nil
		}
		out := corev1.ResourceList{}
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			out[corev1.ResourceName(k)] = resource.MustParse(v)
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: parse(req), Limits: parse(lim)}
}

func containerStatus(t *testing.T, pod *corev1.Pod, name string) corev1.ContainerStatus {
	t.Helper()
	for _, s := range append(pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses...) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for container %s in %+v", name, pod.Status)
	return corev1.ContainerStatus{}
}

func condition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func waitingReasonOf(s corev1.ContainerStatus) string {
	if s.State.Waiting == nil {
		return ""
	}
	return s.State.Waiting.Reason
}

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }
