package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// defaultTolerationSeconds is how long pods stay on a node that is not ready
// or unreachable before they are evicted, unless they say otherwise
// (upstream's DefaultTolerationSeconds admission).
const defaultTolerationSeconds = int64(300)

// systemPriorityClasses are the classes every cluster has, as upstream.
var systemPriorityClasses = []schedulingv1.PriorityClass{
	{
		ObjectMeta:  metav1.ObjectMeta{Name: "system-node-critical"},
		Value:       2000001000,
		Description: "Used for system critical pods that must not be moved from their current node.",
	},
	{
		ObjectMeta:  metav1.ObjectMeta{Name: "system-cluster-critical"},
		Value:       2000000000,
		Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
	},
}

// podAdmission fills in what upstream's admission plugins set on a new pod:
// its priority from its PriorityClass, and default tolerations for not-ready
// and unreachable nodes.
type podAdmission struct {
	priorityClasses *Store
}

func (p *podAdmission) admit(ctx context.Context, pod *corev1.Pod) error {
	if err := p.setPriority(ctx, pod); err != nil {
		return err
	}
	addDefaultToleration(pod, corev1.TaintNodeNotReady)
	addDefaultToleration(pod, corev1.TaintNodeUnreachable)
	return nil
}

func (p *podAdmission) setPriority(ctx context.Context, pod *corev1.Pod) error {
	pc, err := p.class(ctx, pod.Spec.PriorityClassName)
	if err != nil {
		return err
	}
	var value int32
	if pc != nil {
		value = pc.Value
		pod.Spec.PriorityClassName = pc.Name
		if pod.Spec.PreemptionPolicy == nil && pc.PreemptionPolicy != nil {
			policy := *pc.PreemptionPolicy
			pod.Spec.PreemptionPolicy = &policy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return apierrors.NewForbidden(corev1.Resource("pods"), pod.Name, fmt.Errorf(
			"the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name",
			*pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	return nil
}

// class returns the named PriorityClass, or the global default for an empty
// name (nil if there is none).
func (p *podAdmission) class(ctx context.Context, name string) (*schedulingv1.PriorityClass, error) {
	if name != "" {
		o, err := p.priorityClasses.Get(ctx, "", name, "0")
		if apierrors.IsNotFound(err) {
			o, err = p.priorityClasses.Get(ctx, "", name, "")
		}
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Pod").GroupKind(), "",
				field.ErrorList{field.NotFound(field.NewPath("spec", "priorityClassName"), name)})
		}
		if err != nil {
			return nil, err
		}
		return o.Obj.(*schedulingv1.PriorityClass), nil
	}
	res, err := p.priorityClasses.List(ctx, "", &metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	var best *schedulingv1.PriorityClass
	for _, o := range res.Items {
		pc := o.Obj.(*schedulingv1.PriorityClass)
		if pc.GlobalDefault && (best == nil || pc.Value < best.Value) {
			best = pc
		}
	}
	return best, nil
}

func addDefaultToleration(pod *corev1.Pod, key string) {
	for _, t := range pod.Spec.Tolerations {
		if (t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists)) &&
			(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return
		}
	}
	seconds := defaultTolerationSeconds
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
		Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
	})
}
