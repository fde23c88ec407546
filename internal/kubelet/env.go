package kubelet

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// envList is a container's environment in definition order; a name defined
// twice keeps its first place and its last value.
type envList struct {
	names  []string
	values map[string]string
}

func (e *envList) set(name, value string) {
	if e.values == nil {
		e.values = map[string]string{}
	}
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func (e *envList) lookup(name string) (string, bool) {
	v, ok := e.values[name]
	return v, ok
}

func (e *envList) cri() []*runtimeapi.KeyValue {
	out := make([]*runtimeapi.KeyValue, 0, len(e.names))
	for _, n := range e.names {
		out = append(out, &runtimeapi.KeyValue{Key: n, Value: []byte(e.values[n])})
	}
	return out
}

// objectSource reads the ConfigMaps and Secrets of one container start,
// each at most once.
type objectSource struct {
	ctx        context.Context
	k          *Kubelet
	ns         string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (k *Kubelet) newObjectSource(ctx context.Context, ns string) *objectSource {
	return &objectSource{ctx: ctx, k: k, ns: ns, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

// configMap returns the named ConfigMap, nil if it does not exist.
func (o *objectSource) configMap(name string) (*corev1.ConfigMap, error) {
	if cm, ok := o.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := o.k.client.CoreV1().ConfigMaps(o.ns).Get(o.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %s/%s: %w", o.ns, name, err)
	}
	o.configMaps[name] = cm
	return cm, nil
}

// secret returns the named Secret, nil if it does not exist.
func (o *objectSource) secret(name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[name]; ok {
		return s, nil
	}
	s, err := o.k.client.CoreV1().Secrets(o.ns).Get(o.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s/%s: %w", o.ns, name, err)
	}
	o.secrets[name] = s
	return s, nil
}

// makeEnv builds a container's environment as upstream does: envFrom
// sources first, then env entries in order, each value expanding $(VAR)
// references to the variables defined before it or to service variables;
// service variables the container does not define come last. podIPs are
// the pod's addresses for status.podIP(s).
func (k *Kubelet) makeEnv(pod *corev1.Pod, c *corev1.Container, podIPs []string, src *objectSource) (*envList, error) {
	svcEnv, err := k.serviceEnv(pod)
	if err != nil {
		return nil, err
	}
	env := &envList{}
	lookup := func(name string) (string, bool) {
		if v, ok := env.lookup(name); ok {
			return v, true
		}
		v, ok := svcEnv[name]
		return v, ok
	}
	for _, from := range c.EnvFrom {
		if err := k.envFrom(pod, from, env, src); err != nil {
			return nil, err
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := k.envValueFrom(pod, c, e, podIPs, src)
		if err != nil {
			return nil, err
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	// Service variables come last and never override the container's own.
	for _, name := range slices.Sorted(maps.Keys(svcEnv)) {
		if _, ok := env.lookup(name); !ok {
			env.set(name, svcEnv[name])
		}
	}
	return env, nil
}

func (k *Kubelet) envFrom(pod *corev1.Pod, from corev1.EnvFromSource, env *envList, src *objectSource) error {
	var data map[string]string
	var kind, name string
	switch {
	case from.ConfigMapRef != nil:
		kind, name = "ConfigMap", from.ConfigMapRef.Name
		cm, err := src.configMap(name)
		if err != nil {
			return err
		}
		if cm == nil {
			if optional(from.ConfigMapRef.Optional) {
				return nil
			}
			return fmt.Errorf("configmap %q not found", name)
		}
		data = cm.Data
	case from.SecretRef != nil:
		kind, name = "Secret", from.SecretRef.Name
		s, err := src.secret(name)
		if err != nil {
			return err
		}
		if s == nil {
			if optional(from.SecretRef.Optional) {
				return nil
			}
			return fmt.Errorf("secret %q not found", name)
		}
		data = make(map[string]string, len(s.Data))
		for key, v := range s.Data {
			data[key] = string(v)
		}
	default:
		return nil
	}
	var invalid []string
	for _, key := range slices.Sorted(maps.Keys(data)) {
		name := from.Prefix + key
		if len(validation.IsRelaxedEnvVarName(name)) != 0 {
			invalid = append(invalid, name)
			continue
		}
		env.set(name, data[key])
	}
	if len(invalid) > 0 {
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "InvalidEnvironmentVariableNames",
			"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
			strings.Join(invalid, ", "), kind, pod.Namespace, name)
	}
	return nil
}

// envValueFrom resolves a valueFrom; ok is false when an optional source
// is missing and the variable is left out.
func (k *Kubelet) envValueFrom(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, podIPs []string, src *objectSource) (string, bool, error) {
	from := e.ValueFrom
	switch {
	case from.FieldRef != nil:
		v, err := k.podFieldValue(pod, from.FieldRef.FieldPath, podIPs)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceFieldValue(c, from.ResourceFieldRef, k.cfg.NodeAllocatable)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := src.configMap(ref.Name)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := src.secret(ref.Name)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, fmt.Errorf("env var %q: unsupported valueFrom", e.Name)
}

func optional(b *bool) bool { return b != nil && *b }

// podFieldValue resolves a downward-API field path of the pod.
func (k *Kubelet) podFieldValue(pod *corev1.Pod, path string, podIPs []string) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		if len(k.cfg.HostIPs) > 0 {
			return k.cfg.HostIPs[0], nil
		}
		return "", nil
	case "status.hostIPs":
		return strings.Join(k.cfg.HostIPs, ","), nil
	case "status.podIP":
		if len(podIPs) > 0 {
			return podIPs[0], nil
		}
		return "", nil
	case "status.podIPs":
		return strings.Join(podIPs, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", path)
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations one key="value" per line, sorted,
// as the downward API does.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, key := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", key, m[key])
	}
	return b.String()
}

// resourceFieldValue resolves a resourceFieldRef: a request or limit in
// units of the divisor, rounded up; an unset limit is the node's
// allocatable amount.
func resourceFieldValue(c *corev1.Container, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	var cpu bool
	switch ref.Resource {
	case "limits.cpu":
		q, cpu = limitOr(c.Resources.Limits, allocatable, corev1.ResourceCPU), true
	case "limits.memory":
		q = limitOr(c.Resources.Limits, allocatable, corev1.ResourceMemory)
	case "limits.ephemeral-storage":
		q = limitOr(c.Resources.Limits, allocatable, corev1.ResourceEphemeralStorage)
	case "requests.cpu":
		q, cpu = c.Resources.Requests[corev1.ResourceCPU], true
	case "requests.memory":
		q = c.Resources.Requests[corev1.ResourceMemory]
	case "requests.ephemeral-storage":
		q = c.Resources.Requests[corev1.ResourceEphemeralStorage]
	default:
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	if cpu {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

func limitOr(limits, allocatable corev1.ResourceList, name corev1.ResourceName) resource.Quantity {
	if q, ok := limits[name]; ok && !q.IsZero() {
		return q
	}
	return allocatable[name]
}
