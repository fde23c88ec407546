package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// PodInfo is a pod with what the scheduler derives from it once: its
// requests, host ports and parsed affinity terms.
type PodInfo struct {
	Pod     *corev1.Pod
	Key     string // namespace/name
	Req     Resource
	NonZero Resource
	// Assumed marks a pod the scheduler placed itself and whose binding the
	// informer has not confirmed yet.
	Assumed bool

	ports             []hostPort
	requiredAffinity  []affinityTerm
	requiredAnti      []affinityTerm
	preferredAffinity []weightedTerm
	preferredAnti     []weightedTerm
	owner             types.UID
}

// NewPodInfo derives a PodInfo. It fails only on malformed label selectors
// in the pod's affinity.
func NewPodInfo(pod *corev1.Pod) (*PodInfo, error) {
	pi := &PodInfo{Pod: pod, Key: pod.Namespace + "/" + pod.Name, ports: podHostPorts(pod)}
	pi.Req, pi.NonZero = podRequests(pod)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		pi.owner = ref.UID
	}
	if err := pi.parseAffinity(); err != nil {
		return nil, fmt.Errorf("pod %s: %w", pi.Key, err)
	}
	return pi, nil
}

func (pi *PodInfo) priority() int32 { return podPriority(pi.Pod) }

func podPriority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// NodeInfo aggregates a node and the pods bound (or assumed) to it.
type NodeInfo struct {
	Node *corev1.Node
	// The node fields every filter pass reads are copied here: a pass over
	// thousands of nodes would otherwise miss the cache on each Node.
	name          string
	unschedulable bool
	taints        []corev1.Taint

	Allocatable Resource
	// Requested sums the requests of the node's pods; NonZeroRequested the
	// same with scoring defaults for cpu and memory.
	Requested        Resource
	NonZeroRequested Resource
	Pods             []*PodInfo

	usedPorts   map[hostPort]int
	ownerCounts map[types.UID]int
	// podsWithAffinity counts pods carrying any pod (anti-)affinity, so
	// the affinity scorers can skip nodes without any.
	podsWithAffinity int
}

func newNodeInfo(node *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	ni.setNode(node)
	return ni
}

func (ni *NodeInfo) setNode(node *corev1.Node) {
	ni.Node = node
	ni.name, ni.unschedulable, ni.taints = node.Name, node.Spec.Unschedulable, node.Spec.Taints
	ni.Allocatable = resourceFromList(node.Status.Allocatable)
}

func (ni *NodeInfo) addPod(pi *PodInfo) {
	ni.Pods = append(ni.Pods, pi)
	ni.Requested.add(&pi.Req)
	ni.NonZeroRequested.add(&pi.NonZero)
	for _, p := range pi.ports {
		if ni.usedPorts == nil {
			ni.usedPorts = make(map[hostPort]int)
		}
		ni.usedPorts[p]++
	}
	if pi.owner != "" {
		if ni.ownerCounts == nil {
			ni.ownerCounts = make(map[types.UID]int)
		}
		ni.ownerCounts[pi.owner]++
	}
	if pi.hasAffinity() {
		ni.podsWithAffinity++
	}
}

func (ni *NodeInfo) removePod(key string) *PodInfo {
	for i, pi := range ni.Pods {
		if pi.Key != key {
			continue
		}
		last := len(ni.Pods) - 1
		ni.Pods[i] = ni.Pods[last]
		ni.Pods[last] = nil
		ni.Pods = ni.Pods[:last]
		ni.Requested.sub(&pi.Req)
		ni.NonZeroRequested.sub(&pi.NonZero)
		for _, p := range pi.ports {
			if ni.usedPorts[p]--; ni.usedPorts[p] <= 0 {
				delete(ni.usedPorts, p)
			}
		}
		if pi.owner != "" {
			if ni.ownerCounts[pi.owner]--; ni.ownerCounts[pi.owner] <= 0 {
				delete(ni.ownerCounts, pi.owner)
			}
		}
		if pi.hasAffinity() {
			ni.podsWithAffinity--
		}
		return pi
	}
	return nil
}

// clone copies the node's pod accounting so preemption can simulate
// evictions without touching the snapshot.
func (ni *NodeInfo) clone() *NodeInfo {
	c := newNodeInfo(ni.Node)
	for _, pi := range ni.Pods {
		c.addPod(pi)
	}
	return c
}

// Snapshot is the cluster as the scheduler sees it: nodes, the pods bound
// or assumed to them, namespace labels and nominated pods. It is updated
// incrementally from informer events; Schedule only reads it. A Snapshot is
// not safe for concurrent use; the Scheduler guards its own with a mutex.
type Snapshot struct {
	nodes     []*NodeInfo
	nodeIndex map[string]int
	// orphans hold pods bound to nodes not (or no longer) known, so that
	// informer order does not lose them: a node added later adopts them.
	orphans map[string]*NodeInfo
	// pods maps namespace/name of every bound or assumed pod to its node.
	pods map[string]string
	// antiAffinityPods lists bound pods with required anti-affinity, which
	// every incoming pod must respect.
	antiAffinityPods map[string]*PodInfo
	nsLabels         map[string]labels.Set
	// nominated holds pods that preempted others and wait for room on the
	// node they were nominated to, by node name.
	nominated    map[string]map[string]*PodInfo
	nominatedFor map[string]string
	// podsWithAffinity counts placed pods carrying any pod (anti-)affinity:
	// with none, a pod without preferred terms skips affinity scoring.
	podsWithAffinity int
}

// NewSnapshot returns an empty Snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		nodeIndex:        make(map[string]int),
		orphans:          make(map[string]*NodeInfo),
		pods:             make(map[string]string),
		antiAffinityPods: make(map[string]*PodInfo),
		nsLabels:         make(map[string]labels.Set),
		nominated:        make(map[string]map[string]*PodInfo),
		nominatedFor:     make(map[string]string),
	}
}

// NumNodes returns how many nodes the snapshot holds.
func (s *Snapshot) NumNodes() int { return len(s.nodes) }

// NodeInfo returns the node's aggregate, or nil.
func (s *Snapshot) NodeInfo(name string) *NodeInfo {
	if i, ok := s.nodeIndex[name]; ok {
		return s.nodes[i]
	}
	return nil
}

// SetNode adds or replaces a node, keeping the pods already placed on it.
func (s *Snapshot) SetNode(node *corev1.Node) {
	if i, ok := s.nodeIndex[node.Name]; ok {
		s.nodes[i].setNode(node)
		return
	}
	ni := s.orphans[node.Name]
	if ni != nil {
		delete(s.orphans, node.Name)
		ni.setNode(node)
	} else {
		ni = newNodeInfo(node)
	}
	s.nodeIndex[node.Name] = len(s.nodes)
	s.nodes = append(s.nodes, ni)
}

// RemoveNode drops a node; pods still bound to it are kept aside until
// their own deletion is observed or the node returns.
func (s *Snapshot) RemoveNode(name string) {
	i, ok := s.nodeIndex[name]
	if !ok {
		return
	}
	if len(s.nodes[i].Pods) > 0 {
		s.orphans[name] = s.nodes[i]
	}
	last := len(s.nodes) - 1
	s.nodes[i] = s.nodes[last]
	s.nodeIndex[s.nodes[i].Node.Name] = i
	s.nodes[last] = nil
	s.nodes = s.nodes[:last]
	delete(s.nodeIndex, name)
}

// AddPod places pi on nodeName, replacing any earlier placement of the
// same pod (which is how an assumed pod becomes a confirmed one).
func (s *Snapshot) AddPod(pi *PodInfo, nodeName string) {
	s.RemovePod(pi.Key)
	ni := s.NodeInfo(nodeName)
	if ni == nil {
		ni = s.orphans[nodeName]
		if ni == nil {
			ni = newNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}})
			s.orphans[nodeName] = ni
		}
	}
	ni.addPod(pi)
	if pi.hasAffinity() {
		s.podsWithAffinity++
	}
	s.pods[pi.Key] = nodeName
	if len(pi.requiredAnti) > 0 {
		s.antiAffinityPods[pi.Key] = pi
	}
}

// RemovePod drops the pod with key namespace/name and returns it, or nil.
func (s *Snapshot) RemovePod(key string) *PodInfo {
	nodeName, ok := s.pods[key]
	if !ok {
		return nil
	}
	delete(s.pods, key)
	delete(s.antiAffinityPods, key)
	var pi *PodInfo
	if ni := s.NodeInfo(nodeName); ni != nil {
		pi = ni.removePod(key)
	} else if ni := s.orphans[nodeName]; ni != nil {
		pi = ni.removePod(key)
		if len(ni.Pods) == 0 {
			delete(s.orphans, nodeName)
		}
	}
	if pi != nil && pi.hasAffinity() {
		s.podsWithAffinity--
	}
	return pi
}

// PodNode returns the node a pod is placed on and whether it is placed.
func (s *Snapshot) PodNode(key string) (string, bool) {
	n, ok := s.pods[key]
	return n, ok
}

// SetNamespace records a namespace's labels for affinity namespace
// selectors.
func (s *Snapshot) SetNamespace(ns *corev1.Namespace) {
	s.nsLabels[ns.Name] = labels.Set(ns.Labels)
}

// RemoveNamespace forgets a namespace's labels.
func (s *Snapshot) RemoveNamespace(name string) { delete(s.nsLabels, name) }

// SetNominated records that an unbound pod waits for room on nodeName;
// an empty nodeName clears it. Lower-priority pods must not take that room.
func (s *Snapshot) SetNominated(pi *PodInfo, nodeName string) {
	if old, ok := s.nominatedFor[pi.Key]; ok {
		delete(s.nominated[old], pi.Key)
		if len(s.nominated[old]) == 0 {
			delete(s.nominated, old)
		}
		delete(s.nominatedFor, pi.Key)
	}
	if nodeName == "" {
		return
	}
	if s.nominated[nodeName] == nil {
		s.nominated[nodeName] = make(map[string]*PodInfo)
	}
	s.nominated[nodeName][pi.Key] = pi
	s.nominatedFor[pi.Key] = nodeName
}

// nominatedRequests sums the requests of pods nominated to node with at
// least pod's priority, other than pod itself.
func (s *Snapshot) nominatedRequests(node string, pod *PodInfo) (Resource, int64) {
	var r Resource
	var n int64
	prio := pod.priority()
	for key, np := range s.nominated[node] {
		if key == pod.Key || np.priority() < prio {
			continue
		}
		r.add(&np.Req)
		n++
	}
	return r, n
}

func (s *Snapshot) clearNominated(key string) {
	s.SetNominated(&PodInfo{Key: key}, "")
}

// forgetAssumed removes pi if it is still the scheduler's unconfirmed
// assumption for its pod; a confirmed binding is left alone.
func (s *Snapshot) forgetAssumed(pi *PodInfo) {
	ni := s.NodeInfo(s.pods[pi.Key])
	if ni == nil {
		ni = s.orphans[s.pods[pi.Key]]
	}
	if ni == nil {
		return
	}
	for _, p := range ni.Pods {
		if p == pi {
			s.RemovePod(pi.Key)
			return
		}
	}
}
