package scheduler

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// affinityTerm is a parsed PodAffinityTerm.
type affinityTerm struct {
	namespaces  sets.Set[string]
	nsSelector  labels.Selector // nil: only namespaces
	selector    labels.Selector
	topologyKey string
}

type weightedTerm struct {
	affinityTerm
	weight int64
}

// matches reports whether pod falls under the term: its namespace is
// listed or selected, and its labels match.
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels map[string]labels.Set) bool {
	if !t.namespaces.Has(pod.Namespace) {
		if t.nsSelector == nil || !t.nsSelector.Matches(nsLabels[pod.Namespace]) {
			return false
		}
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

func newAffinityTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return affinityTerm{}, fmt.Errorf("label selector: %w", err)
	}
	sel, err = withMatchLabelKeys(sel, pod, term.MatchLabelKeys, selection.In)
	if err != nil {
		return affinityTerm{}, err
	}
	sel, err = withMatchLabelKeys(sel, pod, term.MismatchLabelKeys, selection.NotIn)
	if err != nil {
		return affinityTerm{}, err
	}
	t := affinityTerm{selector: sel, topologyKey: term.TopologyKey, namespaces: sets.New(term.Namespaces...)}
	if term.NamespaceSelector != nil {
		t.nsSelector, err = metav1.LabelSelectorAsSelector(term.NamespaceSelector)
		if err != nil {
			return affinityTerm{}, fmt.Errorf("namespace selector: %w", err)
		}
	} else if len(term.Namespaces) == 0 {
		t.namespaces.Insert(pod.Namespace)
	}
	return t, nil
}

func (pi *PodInfo) parseAffinity() error {
	aff := pi.Pod.Spec.Affinity
	if aff == nil {
		return nil
	}
	var err error
	if pa := aff.PodAffinity; pa != nil {
		if pi.requiredAffinity, err = parseTerms(pi.Pod, pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
		if pi.preferredAffinity, err = parseWeighted(pi.Pod, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	if pa := aff.PodAntiAffinity; pa != nil {
		if pi.requiredAnti, err = parseTerms(pi.Pod, pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
		if pi.preferredAnti, err = parseWeighted(pi.Pod, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	return nil
}

func (pi *PodInfo) hasAffinity() bool {
	return len(pi.requiredAffinity)+len(pi.requiredAnti)+len(pi.preferredAffinity)+len(pi.preferredAnti) > 0
}

func parseTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) ([]affinityTerm, error) {
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseWeighted(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm) ([]weightedTerm, error) {
	out := make([]weightedTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			return nil, err
		}
		out = append(out, weightedTerm{affinityTerm: t, weight: int64(terms[i].Weight)})
	}
	return out, nil
}

// withMatchLabelKeys narrows sel by the pod's own values of keys, the way
// matchLabelKeys (op In) and mismatchLabelKeys (op NotIn) are defined.
func withMatchLabelKeys(sel labels.Selector, pod *corev1.Pod, keys []string, op selection.Operator) (labels.Selector, error) {
	for _, k := range keys {
		v, ok := pod.Labels[k]
		if !ok {
			continue
		}
		r, err := labels.NewRequirement(k, op, []string{v})
		if err != nil {
			return nil, fmt.Errorf("label key %q: %w", k, err)
		}
		sel = sel.Add(*r)
	}
	return sel, nil
}

// nodeAffinity is the parsed required node placement of a pod: its
// nodeSelector and required node affinity terms (ORed).
type nodeAffinity struct {
	selector labels.Selector // nil: no nodeSelector
	terms    []nodeSelectorTerm
	required bool
}

type nodeSelectorTerm struct {
	labels labels.Selector
	fields []corev1.NodeSelectorRequirement
}

func newNodeAffinity(pod *corev1.Pod) nodeAffinity {
	var na nodeAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		na.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		na.required = true
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			na.terms = append(na.terms, parseNodeSelectorTerm(t))
		}
	}
	return na
}

func (na *nodeAffinity) empty() bool { return na.selector == nil && !na.required }

func (na *nodeAffinity) matches(node *corev1.Node) bool {
	if na.selector != nil && !na.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if !na.required {
		return true
	}
	for i := range na.terms {
		if na.terms[i].matches(node) {
			return true
		}
	}
	return false
}

// parseNodeSelectorTerm converts a term; an invalid requirement makes the
// term match nothing, as upstream treats it.
func parseNodeSelectorTerm(t corev1.NodeSelectorTerm) nodeSelectorTerm {
	out := nodeSelectorTerm{fields: t.MatchFields}
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		out.labels = labels.Nothing()
		return out
	}
	sel := labels.NewSelector()
	for _, e := range t.MatchExpressions {
		r, err := nodeRequirement(e)
		if err != nil {
			out.labels = labels.Nothing()
			return out
		}
		sel = sel.Add(*r)
	}
	out.labels = sel
	return out
}

func nodeRequirement(e corev1.NodeSelectorRequirement) (*labels.Requirement, error) {
	var op selection.Operator
	switch e.Operator {
	case corev1.NodeSelectorOpIn:
		op = selection.In
	case corev1.NodeSelectorOpNotIn:
		op = selection.NotIn
	case corev1.NodeSelectorOpExists:
		op = selection.Exists
	case corev1.NodeSelectorOpDoesNotExist:
		op = selection.DoesNotExist
	case corev1.NodeSelectorOpGt:
		op = selection.GreaterThan
	case corev1.NodeSelectorOpLt:
		op = selection.LessThan
	default:
		return nil, fmt.Errorf("unknown node selector operator %q", e.Operator)
	}
	return labels.NewRequirement(e.Key, op, e.Values)
}

func (t *nodeSelectorTerm) matches(node *corev1.Node) bool {
	if !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	for _, f := range t.fields {
		// metadata.name is the only field upstream supports.
		if f.Key != "metadata.name" {
			return false
		}
		in := false
		for _, v := range f.Values {
			in = in || v == node.Name
		}
		switch f.Operator {
		case corev1.NodeSelectorOpIn:
			if !in || len(f.Values) != 1 {
				return false
			}
		case corev1.NodeSelectorOpNotIn:
			if in {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// preferredNodeScore sums the weights of the pod's preferred node affinity
// terms that node matches.
func preferredNodeScore(terms []preferredNodeTerm, node *corev1.Node) int64 {
	var s int64
	for i := range terms {
		if terms[i].term.matches(node) {
			s += terms[i].weight
		}
	}
	return s
}

type preferredNodeTerm struct {
	term   nodeSelectorTerm
	weight int64
}

func preferredNodeTerms(pod *corev1.Pod) []preferredNodeTerm {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return nil
	}
	var out []preferredNodeTerm
	for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if p.Weight == 0 {
			continue
		}
		out = append(out, preferredNodeTerm{term: parseNodeSelectorTerm(p.Preference), weight: int64(p.Weight)})
	}
	return out
}

// tolerates reports whether any toleration tolerates taint.
func tolerates(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if toleratesOne(&tols[i], taint) {
			return true
		}
	}
	return false
}

func toleratesOne(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		tv, err1 := strconv.ParseInt(t.Value, 10, 64)
		nv, err2 := strconv.ParseInt(taint.Value, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if t.Operator == corev1.TolerationOpLt {
			return nv < tv
		}
		return nv > tv
	}
	return false
}

// hostPort is one host port a pod claims; an empty or 0.0.0.0 IP claims
// the port on every address.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" {
					hp.ip = "0.0.0.0"
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// portsConflict reports whether any wanted port is already used on the
// node, with 0.0.0.0 conflicting with every address.
func portsConflict(used map[hostPort]int, want []hostPort) bool {
	if len(used) == 0 {
		return false
	}
	for _, w := range want {
		if used[w] > 0 {
			return true
		}
		if w.ip == "0.0.0.0" {
			for u := range used {
				if u.port == w.port && u.protocol == w.protocol {
					return true
				}
			}
			continue
		}
		if used[hostPort{ip: "0.0.0.0", protocol: w.protocol, port: w.port}] > 0 {
			return true
		}
	}
	return false
}
