package defaulting

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// milliScale is the precision upstream rounds every resource quantity up to,
// so that e.g. "0.0001" CPU is stored as "1m".
const milliScale = resource.Scale(-3)

// schedulingGatedMessage is the condition message upstream writes when a pod
// is created with scheduling gates.
const schedulingGatedMessage = "Scheduling is blocked due to non-empty scheduling gates"

// defaultPod applies the pod-only rules on top of the PodSpec rules. Upstream
// keeps these out of the PodSpec defaults on purpose, so templates inside
// workloads do not grow them.
func defaultPod(pod *corev1.Pod) {
	// A pod that has never been through the API server has no phase yet;
	// that is when the create-time status fields are filled in.
	fresh := pod.Status.Phase == ""

	defaultRequestsFromLimits(pod.Spec.Containers)
	defaultRequestsFromLimits(pod.Spec.InitContainers)
	if pod.Spec.EnableServiceLinks == nil {
		pod.Spec.EnableServiceLinks = ptrTo(corev1.DefaultEnableServiceLinks)
	}
	if pod.Spec.HostNetwork {
		defaultHostNetworkPorts(pod.Spec.Containers)
		defaultHostNetworkPorts(pod.Spec.InitContainers)
	}
	defaultPodSpec(&pod.Spec)

	if fresh {
		pod.Status.Phase = corev1.PodPending
		addSchedulingGatedCondition(pod)
	}
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = PodQOSClass(pod)
	}
}

// defaultRequestsFromLimits copies each limit into requests where the
// request is missing, as upstream does for pods (never for templates).
func defaultRequestsFromLimits(containers []corev1.Container) {
	for i := range containers {
		res := &containers[i].Resources
		if res.Limits == nil {
			continue
		}
		if res.Requests == nil {
			res.Requests = make(corev1.ResourceList, len(res.Limits))
		}
		for name, limit := range res.Limits {
			if _, ok := res.Requests[name]; !ok {
				res.Requests[name] = limit.DeepCopy()
			}
		}
	}
}

// defaultHostNetworkPorts makes host ports explicit: with host networking a
// container port is a host port whether or not the user says so.
func defaultHostNetworkPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			p := &containers[i].Ports[j]
			if p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

// addSchedulingGatedCondition mirrors the PodScheduled=False condition that
// upstream adds at creation so that gated pods explain why they wait.
func addSchedulingGatedCondition(pod *corev1.Pod) {
	if len(pod.Spec.SchedulingGates) == 0 {
		return
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type:    corev1.PodScheduled,
		Status:  corev1.ConditionFalse,
		Reason:  corev1.PodReasonSchedulingGated,
		Message: schedulingGatedMessage,
	})
}

// defaultPodTemplateSpec applies the rules that hold for every pod template.
func defaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	defaultPodSpec(&t.Spec)
}

// defaultPodSpec applies the PodSpec-level rules shared by pods and templates.
func defaultPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptrTo[int64](corev1.DefaultTerminationGracePeriodSeconds)
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		defaultContainer((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	roundResourceList(spec.Overhead)
	if spec.Resources != nil {
		roundResourceList(spec.Resources.Limits)
		roundResourceList(spec.Resources.Requests)
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil {
			defaultFieldSelector(vf.FieldRef)
		}
	}
	roundResourceList(c.Resources.Limits)
	roundResourceList(c.Resources.Requests)
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		defaultLifecycleHandler(c.Lifecycle.PostStart)
		defaultLifecycleHandler(c.Lifecycle.PreStop)
	}
}

// defaultPullPolicy pulls on every start only for images that float: an
// explicit or implied :latest tag. Digests and other tags are immutable
// enough to reuse a local copy.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of an image reference, "latest" when the reference
// names neither a tag nor a digest, and "" when it only has a digest or is
// not a valid reference (upstream ignores the parse error and so ends up with
// no tag as well).
func imageTag(image string) string {
	if image == "" {
		return ""
	}
	name, digest, hasDigest := strings.Cut(image, "@")
	if hasDigest && digest == "" {
		return ""
	}
	// A colon after the last slash separates the tag; an earlier one belongs
	// to a registry host:port.
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
		if tag == "" {
			return ""
		}
	}
	if !validRepository(name) {
		return ""
	}
	if tag == "" && !hasDigest {
		return "latest"
	}
	return tag
}

// validRepository applies the part of the reference grammar that users trip
// over in practice: path components must be non-empty and lower case, while
// a leading registry host may have upper case.
func validRepository(name string) bool {
	if name == "" {
		return false
	}
	path := name
	if host, rest, ok := strings.Cut(name, "/"); ok && looksLikeRegistryHost(host) {
		path = rest
	}
	for _, part := range strings.Split(path, "/") {
		if part == "" || strings.ToLower(part) != part {
			return false
		}
	}
	return true
}

// looksLikeRegistryHost uses the same test as the reference library: a first
// component is a host when it has a dot or port, is localhost, or has upper
// case (which a repository path may not).
func looksLikeRegistryHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost" || strings.ToLower(s) != s
}

func defaultFieldSelector(f *corev1.ObjectFieldSelector) {
	if f != nil && f.APIVersion == "" {
		f.APIVersion = "v1"
	}
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptrTo("")
	}
}

func defaultLifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultVolume(v *corev1.Volume) {
	if reflect.DeepEqual(v.VolumeSource, corev1.VolumeSource{}) {
		v.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	src := &v.VolumeSource
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = ptrTo(corev1.SecretVolumeSourceDefaultMode)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = ptrTo(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if src.DownwardAPI != nil {
		if src.DownwardAPI.DefaultMode == nil {
			src.DownwardAPI.DefaultMode = ptrTo(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		defaultDownwardAPIItems(src.DownwardAPI.Items)
	}
	if src.Projected != nil {
		defaultProjected(src.Projected)
	}
	if src.HostPath != nil {
		defaultHostPath(src.HostPath)
	}
	if src.EmptyDir != nil && src.EmptyDir.SizeLimit != nil {
		roundQuantity(src.EmptyDir.SizeLimit)
	}
	if src.Ephemeral != nil && src.Ephemeral.VolumeClaimTemplate != nil {
		defaultPVCSpec(&src.Ephemeral.VolumeClaimTemplate.Spec)
	}
	if src.Image != nil && src.Image.PullPolicy == "" {
		src.Image.PullPolicy = defaultPullPolicy(src.Image.Reference)
	}
	defaultLegacyVolumeSource(src)
}

func defaultProjected(p *corev1.ProjectedVolumeSource) {
	if p.DefaultMode == nil {
		p.DefaultMode = ptrTo(corev1.ProjectedVolumeSourceDefaultMode)
	}
	for i := range p.Sources {
		s := &p.Sources[i]
		if s.DownwardAPI != nil {
			defaultDownwardAPIItems(s.DownwardAPI.Items)
		}
		if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
			s.ServiceAccountToken.ExpirationSeconds = ptrTo[int64](3600)
		}
	}
}

func defaultDownwardAPIItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		defaultFieldSelector(items[i].FieldRef)
	}
}

func defaultHostPath(h *corev1.HostPathVolumeSource) {
	if h.Type == nil {
		h.Type = ptrTo(corev1.HostPathUnset)
	}
}

// defaultLegacyVolumeSource applies the declarative (+default) markers of
// the in-tree volume plugins that a pod can still name.
func defaultLegacyVolumeSource(src *corev1.VolumeSource) {
	if r := src.RBD; r != nil {
		defaultRBD(&r.RBDPool, &r.RadosUser, &r.Keyring)
	}
	if s := src.ISCSI; s != nil && s.ISCSIInterface == "" {
		s.ISCSIInterface = "default"
	}
	if a := src.AzureDisk; a != nil {
		defaultAzureDisk(a)
	}
	if s := src.ScaleIO; s != nil {
		defaultScaleIO(&s.StorageMode, &s.FSType)
	}
}

func defaultRBD(pool, user, keyring *string) {
	setIfEmpty(pool, "rbd")
	setIfEmpty(user, "admin")
	setIfEmpty(keyring, "/etc/ceph/keyring")
}

func defaultAzureDisk(a *corev1.AzureDiskVolumeSource) {
	if a.CachingMode == nil {
		a.CachingMode = ptrTo(corev1.AzureDataDiskCachingReadWrite)
	}
	if a.FSType == nil {
		a.FSType = ptrTo("ext4")
	}
	if a.ReadOnly == nil {
		a.ReadOnly = ptrTo(false)
	}
	if a.Kind == nil {
		a.Kind = ptrTo(corev1.AzureSharedBlobDisk)
	}
}

func defaultScaleIO(storageMode, fsType *string) {
	setIfEmpty(storageMode, "ThinProvisioned")
	setIfEmpty(fsType, "xfs")
}

func setIfEmpty(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// roundResourceList rounds every quantity up to milli precision. Only values
// that actually change are rewritten, so exact quantities keep their cached
// string form.
func roundResourceList(list corev1.ResourceList) {
	for name, q := range list {
		rounded := q.DeepCopy()
		if !rounded.RoundUp(milliScale) {
			list[name] = rounded
		}
	}
}

func roundQuantity(q *resource.Quantity) {
	rounded := q.DeepCopy()
	if !rounded.RoundUp(milliScale) {
		*q = rounded
	}
}

// qosComputeResources are the only resources that decide a pod's QoS class.
var qosComputeResources = map[corev1.ResourceName]bool{
	corev1.ResourceCPU:    true,
	corev1.ResourceMemory: true,
}

// PodQOSClass computes the QoS class upstream records in status.qosClass:
// BestEffort when no container asks for CPU or memory, Guaranteed when every
// container limits both and requests equal limits, Burstable otherwise.
// Pod-level resources, when set, take the place of the containers'.
func PodQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	if pod.Spec.Resources != nil {
		addQOSQuantities(requests, pod.Spec.Resources.Requests)
		addQOSQuantities(limits, pod.Spec.Resources.Limits)
		guaranteed = hasAllQOSResources(pod.Spec.Resources.Limits)
	} else {
		all := append(append([]corev1.Container{}, pod.Spec.Containers...), pod.Spec.InitContainers...)
		for _, c := range all {
			addQOSQuantities(requests, c.Resources.Requests)
			addQOSQuantities(limits, c.Resources.Limits)
			if !hasAllQOSResources(c.Resources.Limits) {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed && len(requests) == len(limits) {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	} else {
		guaranteed = false
	}
	if guaranteed {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// addQOSQuantities sums the positive CPU and memory quantities of src into dst.
func addQOSQuantities(dst, src corev1.ResourceList) {
	for name, q := range src {
		if !qosComputeResources[name] || q.Sign() <= 0 {
			continue
		}
		sum := q.DeepCopy()
		if prev, ok := dst[name]; ok {
			sum.Add(prev)
		}
		dst[name] = sum
	}
}

// hasAllQOSResources reports whether a limit list sets both CPU and memory
// to a positive amount.
func hasAllQOSResources(limits corev1.ResourceList) bool {
	for name := range qosComputeResources {
		if q, ok := limits[name]; !ok || q.Sign() <= 0 {
			return false
		}
	}
	return true
}
