package validation

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedRestartPolicies   = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedDNSPolicies       = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	supportedPortProtocols     = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	supportedPullPolicies      = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedTerminationPolicy = []corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}
	supportedTaintEffects      = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
	supportedTolerationOps     = []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}
	supportedURISchemes        = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	supportedUnsatisfiable     = []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}
	supportedPreemption        = []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}
	supportedMountPropagation  = []corev1.MountPropagationMode{corev1.MountPropagationNone, corev1.MountPropagationHostToContainer, corev1.MountPropagationBidirectional}
	standardContainerResources = sets.New("cpu", "memory", "ephemeral-storage")
	// Downward API paths usable in env var fieldRefs; labels and annotations
	// are handled separately because they carry a subscript.
	supportedEnvFieldPaths = []string{
		"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
		"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
	}
	fieldPathSubscript = regexp.MustCompile(`^(metadata\.(?:labels|annotations))\['(.*)'\]$`)
)

// podUpdateForbiddenMsg lists the pod spec fields that may change in place.
const podUpdateForbiddenMsg = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// validatePod checks a Pod on create.
func validatePod(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validatePodSpec(&pod.Spec, specPath)
	allErrs = append(allErrs, validateImagesOnlyForPod(&pod.Spec, specPath)...)
	allErrs = append(allErrs, validateEphemeralContainers(pod.Spec.EphemeralContainers, pod.Spec.Containers, pod.Spec.InitContainers, specPath.Child("ephemeralContainers"))...)
	return allErrs
}

// validateImagesOnlyForPod applies the stricter image rules upstream keeps
// for real pods (templates tolerate surrounding whitespace).
func validateImagesOnlyForPod(spec *corev1.PodSpec, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	check := func(ctrs []corev1.Container, p *field.Path) {
		for i, c := range ctrs {
			if len(c.Image) != len(strings.TrimSpace(c.Image)) {
				allErrs = append(allErrs, field.Invalid(p.Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	check(spec.InitContainers, specPath.Child("initContainers"))
	check(spec.Containers, specPath.Child("containers"))
	return allErrs
}

// validatePodTemplateSpec checks a template embedded in a workload.
func validatePodTemplateSpec(tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	metaPath := fldPath.Child("metadata")
	allErrs := metav1validation.ValidateLabels(tmpl.Labels, metaPath.Child("labels"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(tmpl.Annotations, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodSpec(&tmpl.Spec, fldPath.Child("spec"))...)
	if len(tmpl.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

// validatePodSpec checks everything in a pod spec that is shared by pods
// and pod templates.
func validatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	volumes, allErrs := validateVolumes(spec.Volumes, fldPath.Child("volumes"))
	allErrs = append(allErrs, validateInitContainers(spec.InitContainers, volumes, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateContainers(spec.Containers, volumes, fldPath.Child("containers"))...)
	allErrs = append(allErrs, validateContainerNamesUnique(spec, fldPath)...)
	allErrs = append(allErrs, validateRestartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	allErrs = append(allErrs, validateDNSPolicy(spec.DNSPolicy, fldPath.Child("dnsPolicy"))...)
	allErrs = append(allErrs, validatePodDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateAffinity(spec.Affinity, fldPath.Child("affinity"))...)
	allErrs = append(allErrs, validateTopologySpreadConstraints(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	allErrs = append(allErrs, validateImagePullSecrets(spec.ImagePullSecrets, fldPath.Child("imagePullSecrets"))...)
	allErrs = append(allErrs, validateHostAliases(spec.HostAliases, fldPath.Child("hostAliases"))...)
	if spec.ServiceAccountName != "" {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("serviceAccountName"), spec.ServiceAccountName, apimachineryvalidation.ValidateServiceAccountName(spec.ServiceAccountName, false))...)
	}
	if spec.NodeName != "" {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("nodeName"), spec.NodeName, apimachineryvalidation.NameIsDNSSubdomain(spec.NodeName, false))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, utilvalidation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.Hostname != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	if spec.PriorityClassName != "" {
		allErrs = append(allErrs, validateDNS1123Subdomain(spec.PriorityClassName, fldPath.Child("priorityClassName"))...)
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(*spec.RuntimeClassName, fldPath.Child("runtimeClassName"))...)
	}
	if spec.PreemptionPolicy != nil && !contains(supportedPreemption, *spec.PreemptionPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("preemptionPolicy"), *spec.PreemptionPolicy, supportedPreemption))
	}
	if spec.SecurityContext != nil {
		allErrs = append(allErrs, validatePodSecurityContext(spec.SecurityContext, fldPath.Child("securityContext"))...)
	}
	return allErrs
}

// contains reports whether v is one of the allowed values.
func contains[T comparable](allowed []T, v T) bool {
	for _, a := range allowed {
		if a == v {
			return true
		}
	}
	return false
}

func validateRestartPolicy(policy corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	if policy == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !contains(supportedRestartPolicies, policy) {
		return field.ErrorList{field.NotSupported(fldPath, policy, supportedRestartPolicies)}
	}
	return nil
}

func validateDNSPolicy(policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !contains(supportedDNSPolicies, policy) {
		return field.ErrorList{field.NotSupported(fldPath, policy, supportedDNSPolicies)}
	}
	return nil
}

func validatePodDNSConfig(cfg *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.DNSNone && cfg == nil {
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone))}
	}
	if cfg == nil {
		return nil
	}
	var allErrs field.ErrorList
	if policy == corev1.DNSNone && len(cfg.Nameservers) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
	}
	if len(cfg.Nameservers) > 3 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range cfg.Nameservers {
		allErrs = append(allErrs, utilvalidation.IsValidIP(fldPath.Child("nameservers").Index(i), ns)...)
	}
	if len(cfg.Searches) > 32 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("searches"), cfg.Searches, "must not have more than 32 search paths"))
	}
	for i, search := range cfg.Searches {
		search = strings.TrimSuffix(search, ".")
		allErrs = append(allErrs, validateDNS1123Subdomain(search, fldPath.Child("searches").Index(i))...)
	}
	for i, opt := range cfg.Options {
		if opt.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return allErrs
}

func validateImagePullSecrets(refs []corev1.LocalObjectReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ref := range refs {
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i).Child("name"), ""))
		}
	}
	return allErrs
}

func validateHostAliases(aliases []corev1.HostAlias, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, alias := range aliases {
		allErrs = append(allErrs, utilvalidation.IsValidIP(fldPath.Index(i).Child("ip"), alias.IP)...)
		for j, host := range alias.Hostnames {
			allErrs = append(allErrs, validateDNS1123Subdomain(host, fldPath.Index(i).Child("hostnames").Index(j))...)
		}
	}
	return allErrs
}

func validatePodSecurityContext(sc *corev1.PodSecurityContext, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if sc.RunAsUser != nil {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("runAsUser"), *sc.RunAsUser, utilvalidation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("runAsGroup"), *sc.RunAsGroup, utilvalidation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if sc.FSGroup != nil {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("fsGroup"), *sc.FSGroup, utilvalidation.IsValidGroupID(*sc.FSGroup))...)
	}
	for i, gid := range sc.SupplementalGroups {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("supplementalGroups").Index(i), gid, utilvalidation.IsValidGroupID(gid))...)
	}
	return allErrs
}

// validateVolumes checks volume names and sources and returns the set of
// declared names for volumeMount lookups.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (sets.Set[string], field.ErrorList) {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, vol := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		switch {
		case vol.Name == "":
			allErrs = append(allErrs, field.Required(namePath, ""))
		case names.Has(vol.Name):
			allErrs = append(allErrs, field.Duplicate(namePath, vol.Name))
		default:
			allErrs = append(allErrs, validateDNS1123Label(vol.Name, namePath)...)
		}
		names.Insert(vol.Name)
		allErrs = append(allErrs, validateVolumeSource(&vol.VolumeSource, idxPath)...)
	}
	return names, allErrs
}

// validateVolumeSource requires exactly one source and checks the common
// sources' mandatory fields.
func validateVolumeSource(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	set := setPointerFields(reflect.ValueOf(src).Elem())
	if len(set) == 0 {
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	}
	for _, name := range set[1:] {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 volume type"))
	}
	switch {
	case src.HostPath != nil:
		if src.HostPath.Path == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("hostPath", "path"), ""))
		}
	case src.EmptyDir != nil:
		if src.EmptyDir.SizeLimit != nil && src.EmptyDir.SizeLimit.Sign() < 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case src.Secret != nil:
		if src.Secret.SecretName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("secret", "secretName"), ""))
		}
		allErrs = append(allErrs, validateKeyToPaths(src.Secret.Items, fldPath.Child("secret", "items"))...)
		allErrs = append(allErrs, validateFileMode(src.Secret.DefaultMode, fldPath.Child("secret", "defaultMode"))...)
	case src.ConfigMap != nil:
		if src.ConfigMap.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("configMap", "name"), ""))
		}
		allErrs = append(allErrs, validateKeyToPaths(src.ConfigMap.Items, fldPath.Child("configMap", "items"))...)
		allErrs = append(allErrs, validateFileMode(src.ConfigMap.DefaultMode, fldPath.Child("configMap", "defaultMode"))...)
	case src.PersistentVolumeClaim != nil:
		if src.PersistentVolumeClaim.ClaimName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case src.NFS != nil:
		if src.NFS.Server == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("nfs", "server"), ""))
		}
		if src.NFS.Path == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("nfs", "path"), ""))
		} else if !filepath.IsAbs(src.NFS.Path) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nfs", "path"), src.NFS.Path, "must be an absolute path"))
		}
	case src.CSI != nil:
		if src.CSI.Driver == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("csi", "driver"), ""))
		}
	case src.Projected != nil:
		allErrs = append(allErrs, validateFileMode(src.Projected.DefaultMode, fldPath.Child("projected", "defaultMode"))...)
	case src.DownwardAPI != nil:
		for i, item := range src.DownwardAPI.Items {
			allErrs = append(allErrs, validateLocalNonReservedPath(item.Path, fldPath.Child("downwardAPI", "items").Index(i).Child("path"))...)
		}
	}
	return allErrs
}

// setPointerFields lists, by JSON name, the non-nil pointer fields of a
// one-of struct such as VolumeSource.
func setPointerFields(v reflect.Value) []string {
	var names []string
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		tag := v.Type().Field(i).Tag.Get("json")
		names = append(names, strings.Split(tag, ",")[0])
	}
	return names
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, item := range items {
		idxPath := fldPath.Index(i)
		if item.Key == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("key"), ""))
		}
		allErrs = append(allErrs, validateLocalNonReservedPath(item.Path, idxPath.Child("path"))...)
		allErrs = append(allErrs, validateFileMode(item.Mode, idxPath.Child("mode"))...)
	}
	return allErrs
}

// validateFileMode allows only permission bits (0..0777).
func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

// validateLocalDescendingPath keeps projected files inside the volume.
func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			allErrs = append(allErrs, field.Invalid(fldPath, p, "must not contain '..'"))
			break
		}
	}
	return allErrs
}

func validateLocalNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := validateLocalDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return allErrs
}

// validateContainerNamesUnique enforces unique names across regular and
// init containers, as they share one namespace in the kubelet.
func validateContainerNamesUnique(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	check := func(ctrs []corev1.Container, p *field.Path) {
		for i, c := range ctrs {
			if c.Name == "" {
				continue
			}
			if seen.Has(c.Name) {
				allErrs = append(allErrs, field.Duplicate(p.Index(i).Child("name"), c.Name))
			}
			seen.Insert(c.Name)
		}
	}
	check(spec.InitContainers, fldPath.Child("initContainers"))
	check(spec.Containers, fldPath.Child("containers"))
	return allErrs
}

func validateContainers(ctrs []corev1.Container, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	if len(ctrs) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for i := range ctrs {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(&ctrs[i], volumes, idxPath)...)
		if ctrs[i].RestartPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("restartPolicy"), "may not be set for non-init containers"))
		}
		allErrs = append(allErrs, validateProbes(&ctrs[i], idxPath)...)
	}
	return allErrs
}

func validateInitContainers(ctrs []corev1.Container, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i := range ctrs {
		c := &ctrs[i]
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, volumes, idxPath)...)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if c.RestartPolicy != nil && !sidecar {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
		}
		if sidecar {
			allErrs = append(allErrs, validateProbes(c, idxPath)...)
			continue
		}
		if c.LivenessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("livenessProbe"), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.ReadinessProbe != nil {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("readinessProbe"), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.StartupProbe != nil {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("startupProbe"), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.Lifecycle != nil {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("lifecycle"), "may not be set for init containers without restartPolicy=Always"))
		}
	}
	return allErrs
}

// validateContainerCommon holds the checks shared by every container kind.
func validateContainerCommon(c *corev1.Container, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(c.Name, fldPath.Child("name"))...)
	}
	if c.Image == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("image"), ""))
	}
	if c.ImagePullPolicy == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("imagePullPolicy"), ""))
	} else if !contains(supportedPullPolicies, c.ImagePullPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("imagePullPolicy"), c.ImagePullPolicy, supportedPullPolicies))
	}
	if c.TerminationMessagePolicy == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("terminationMessagePolicy"), "must be 'File' or 'FallbackToLogsOnError'"))
	} else if !contains(supportedTerminationPolicy, c.TerminationMessagePolicy) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, "must be 'File' or 'FallbackToLogsOnError'"))
	}
	allErrs = append(allErrs, validateContainerPorts(c.Ports, fldPath.Child("ports"))...)
	allErrs = append(allErrs, validateEnv(c.Env, fldPath.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(c.EnvFrom, fldPath.Child("envFrom"))...)
	allErrs = append(allErrs, validateVolumeMounts(c.VolumeMounts, volumes, fldPath.Child("volumeMounts"))...)
	allErrs = append(allErrs, validateResourceRequirements(&c.Resources, fldPath.Child("resources"))...)
	if c.Lifecycle != nil {
		allErrs = append(allErrs, validateLifecycleHandler(c.Lifecycle.PostStart, fldPath.Child("lifecycle", "postStart"))...)
		allErrs = append(allErrs, validateLifecycleHandler(c.Lifecycle.PreStop, fldPath.Child("lifecycle", "preStop"))...)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			allErrs = append(allErrs, invalidMsgs(fldPath.Child("securityContext", "runAsUser"), *sc.RunAsUser, utilvalidation.IsValidUserID(*sc.RunAsUser))...)
		}
		if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("securityContext"), sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
	}
	return allErrs
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		idxPath := fldPath.Index(i)
		if port.Name != "" {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("name"), port.Name, utilvalidation.IsValidPortName(port.Name))...)
			if names.Has(port.Name) {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("containerPort"), port.ContainerPort, utilvalidation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("hostPort"), port.HostPort, utilvalidation.IsValidPortNum(int(port.HostPort)))...)
		}
		allErrs = append(allErrs, validateProtocol(port.Protocol, idxPath.Child("protocol"))...)
	}
	return allErrs
}

func validateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !contains(supportedPortProtocols, p) {
		return field.ErrorList{field.NotSupported(fldPath, p, supportedPortProtocols)}
	}
	return nil
}

func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		idxPath := fldPath.Index(i)
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("name"), ev.Name, utilvalidation.IsRelaxedEnvVarName(ev.Name))...)
		}
		allErrs = append(allErrs, validateEnvVarValueFrom(ev, idxPath.Child("valueFrom"))...)
	}
	return allErrs
}

func validateEnvVarValueFrom(ev corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	src := ev.ValueFrom
	if src == nil {
		return nil
	}
	var allErrs field.ErrorList
	n := 0
	if src.FieldRef != nil {
		n++
		allErrs = append(allErrs, validateObjectFieldSelector(src.FieldRef, fldPath.Child("fieldRef"))...)
	}
	if src.ResourceFieldRef != nil {
		n++
		if src.ResourceFieldRef.Resource == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("resourceFieldRef", "resource"), ""))
		}
	}
	if ref := src.ConfigMapKeyRef; ref != nil {
		n++
		allErrs = append(allErrs, validateKeySelector(ref.Name, ref.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if ref := src.SecretKeyRef; ref != nil {
		n++
		allErrs = append(allErrs, validateKeySelector(ref.Name, ref.Key, fldPath.Child("secretKeyRef"))...)
	}
	if src.FileKeyRef != nil {
		n++
	}
	switch {
	case n == 0:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case n > 1:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
	case ev.Value != "":
		allErrs = append(allErrs, field.Invalid(fldPath, "", "may not be specified when `value` is not empty"))
	}
	return allErrs
}

func validateKeySelector(name, key string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}
	if key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	} else {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("key"), key, utilvalidation.IsConfigMapKey(key))...)
	}
	return allErrs
}

func validateObjectFieldSelector(sel *corev1.ObjectFieldSelector, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if sel.APIVersion == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("apiVersion"), ""))
	}
	pathField := fldPath.Child("fieldPath")
	switch {
	case sel.FieldPath == "":
		allErrs = append(allErrs, field.Required(pathField, ""))
	case fieldPathSubscript.MatchString(sel.FieldPath):
		key := fieldPathSubscript.FindStringSubmatch(sel.FieldPath)[2]
		allErrs = append(allErrs, invalidMsgs(pathField, sel.FieldPath, utilvalidation.IsQualifiedName(strings.ToLower(key)))...)
	case !contains(supportedEnvFieldPaths, sel.FieldPath):
		allErrs = append(allErrs, field.NotSupported(pathField, sel.FieldPath, append([]string{"metadata.annotations", "metadata.labels"}, supportedEnvFieldPaths...)))
	}
	return allErrs
}

func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, src := range sources {
		idxPath := fldPath.Index(i)
		if src.Prefix != "" {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("prefix"), src.Prefix, utilvalidation.IsRelaxedEnvVarName(src.Prefix))...)
		}
		n := 0
		if src.ConfigMapRef != nil {
			n++
			if src.ConfigMapRef.Name == "" {
				allErrs = append(allErrs, field.Required(idxPath.Child("configMapRef", "name"), ""))
			}
		}
		if src.SecretRef != nil {
			n++
			if src.SecretRef.Name == "" {
				allErrs = append(allErrs, field.Required(idxPath.Child("secretRef", "name"), ""))
			}
		}
		if n == 0 {
			allErrs = append(allErrs, field.Invalid(idxPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if n > 1 {
			allErrs = append(allErrs, field.Invalid(idxPath, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountPoints := sets.New[string]()
	for i, m := range mounts {
		idxPath := fldPath.Index(i)
		if m.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		} else if mountPoints.Has(m.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPoints.Insert(m.MountPath)
		if m.SubPath != "" {
			allErrs = append(allErrs, validateLocalDescendingPath(m.SubPath, idxPath.Child("subPath"))...)
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
		if m.MountPropagation != nil && !contains(supportedMountPropagation, *m.MountPropagation) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("mountPropagation"), *m.MountPropagation, supportedMountPropagation))
		}
	}
	return allErrs
}

// validateResourceRequirements checks names, signs and request <= limit.
func validateResourceRequirements(req *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	for _, rn := range sortedKeys(req.Limits) {
		name, q := string(rn), req.Limits[rn]
		p := limPath.Key(name)
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		allErrs = append(allErrs, validateNonNegativeQuantity(q, p)...)
		if isExtendedResourceName(name) && q.MilliValue()%1000 != 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), "must be an integer"))
		}
	}
	for _, rn := range sortedKeys(req.Requests) {
		name, q := string(rn), req.Requests[rn]
		p := reqPath.Key(name)
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		allErrs = append(allErrs, validateNonNegativeQuantity(q, p)...)
		limit, hasLimit := req.Limits[rn]
		switch {
		case isExtendedResourceName(name) && !hasLimit:
			allErrs = append(allErrs, field.Forbidden(p, "Limit must be set for non overcommitable resources"))
		case isExtendedResourceName(name) && q.Cmp(limit) != 0:
			allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case hasLimit && q.Cmp(limit) > 0:
			allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return allErrs
}

// isExtendedResourceName reports vendor resources such as
// "example.com/gpu", which may not be overcommitted.
func isExtendedResourceName(name string) bool {
	if !strings.Contains(name, "/") || strings.HasPrefix(name, "requests.") {
		return false
	}
	domain := strings.SplitN(name, "/", 2)[0]
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

func validateContainerResourceName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := validateQualifiedName(name, fldPath)
	if len(allErrs) > 0 {
		return allErrs
	}
	if !strings.Contains(name, "/") && !standardContainerResources.Has(name) && !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
	}
	return allErrs
}

// validateProbes checks the three container probes.
func validateProbes(c *corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateProbe(c.LivenessProbe, fldPath.Child("livenessProbe"), true)...)
	allErrs = append(allErrs, validateProbe(c.ReadinessProbe, fldPath.Child("readinessProbe"), false)...)
	allErrs = append(allErrs, validateProbe(c.StartupProbe, fldPath.Child("startupProbe"), true)...)
	if c.ReadinessProbe != nil && c.ReadinessProbe.TerminationGracePeriodSeconds != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("readinessProbe", "terminationGracePeriodSeconds"), *c.ReadinessProbe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return allErrs
}

// validateProbe checks one probe; mustSucceedOnce marks liveness and startup
// probes, whose successThreshold is fixed at 1.
func validateProbe(probe *corev1.Probe, fldPath *field.Path, mustSucceedOnce bool) field.ErrorList {
	if probe == nil {
		return nil
	}
	allErrs := validateProbeHandler(&probe.ProbeHandler, fldPath)
	allErrs = append(allErrs, nonNegative(int64(probe.InitialDelaySeconds), fldPath.Child("initialDelaySeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(probe.TimeoutSeconds), fldPath.Child("timeoutSeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(probe.PeriodSeconds), fldPath.Child("periodSeconds"))...)
	allErrs = append(allErrs, nonNegative(int64(probe.SuccessThreshold), fldPath.Child("successThreshold"))...)
	allErrs = append(allErrs, nonNegative(int64(probe.FailureThreshold), fldPath.Child("failureThreshold"))...)
	if mustSucceedOnce && probe.SuccessThreshold != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("successThreshold"), probe.SuccessThreshold, "must be 1"))
	}
	if probe.TerminationGracePeriodSeconds != nil && *probe.TerminationGracePeriodSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *probe.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return allErrs
}

func validateProbeHandler(h *corev1.ProbeHandler, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	add := func(name string, errs field.ErrorList) {
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
		} else {
			allErrs = append(allErrs, errs...)
		}
		n++
	}
	if h.Exec != nil {
		add("exec", validateExecAction(h.Exec, fldPath.Child("exec")))
	}
	if h.HTTPGet != nil {
		add("httpGet", validateHTTPGetAction(h.HTTPGet, fldPath.Child("httpGet")))
	}
	if h.TCPSocket != nil {
		add("tcpSocket", validatePortNumOrName(h.TCPSocket.Port, fldPath.Child("tcpSocket", "port")))
	}
	if h.GRPC != nil {
		add("grpc", invalidMsgs(fldPath.Child("grpc", "port"), h.GRPC.Port, utilvalidation.IsValidPortNum(int(h.GRPC.Port))))
	}
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	}
	return allErrs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, fldPath *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var allErrs field.ErrorList
	n := 0
	add := func(name string, errs field.ErrorList) {
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
		} else {
			allErrs = append(allErrs, errs...)
		}
		n++
	}
	if h.Exec != nil {
		add("exec", validateExecAction(h.Exec, fldPath.Child("exec")))
	}
	if h.HTTPGet != nil {
		add("httpGet", validateHTTPGetAction(h.HTTPGet, fldPath.Child("httpGet")))
	}
	if h.TCPSocket != nil {
		add("tcpSocket", validatePortNumOrName(h.TCPSocket.Port, fldPath.Child("tcpSocket", "port")))
	}
	if h.Sleep != nil {
		add("sleep", nonNegative(h.Sleep.Seconds, fldPath.Child("sleep", "seconds")))
	}
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	}
	return allErrs
}

func validateExecAction(exec *corev1.ExecAction, fldPath *field.Path) field.ErrorList {
	if len(exec.Command) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("command"), "")}
	}
	return nil
}

func validateHTTPGetAction(get *corev1.HTTPGetAction, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if get.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validatePortNumOrName(get.Port, fldPath.Child("port"))...)
	if !contains(supportedURISchemes, get.Scheme) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scheme"), get.Scheme, supportedURISchemes))
	}
	for i, h := range get.HTTPHeaders {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("httpHeaders").Index(i).Child("name"), h.Name, utilvalidation.IsHTTPHeaderName(h.Name))...)
	}
	return allErrs
}

// validateTolerations checks key/operator/value/effect combinations.
func validateTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		idxPath := fldPath.Index(i)
		if t.Key != "" {
			allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("value"), t.Value, utilvalidation.IsValidLabelValue(t.Value))...)
		case corev1.TolerationOpExists:
			if t.Value != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), t.Operator, supportedTolerationOps))
		}
		if t.Effect != "" && !contains(supportedTaintEffects, t.Effect) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("effect"), t.Effect, supportedTaintEffects))
		}
	}
	return allErrs
}

func validateTopologySpreadConstraints(constraints []corev1.TopologySpreadConstraint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, c := range constraints {
		idxPath := fldPath.Index(i)
		if c.MaxSkew <= 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("topologyKey"), "can not be empty"))
		} else {
			allErrs = append(allErrs, metav1validation.ValidateLabelName(c.TopologyKey, idxPath.Child("topologyKey"))...)
		}
		if !contains(supportedUnsatisfiable, c.WhenUnsatisfiable) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, supportedUnsatisfiable))
		}
		key := c.TopologyKey + "\x00" + string(c.WhenUnsatisfiable)
		if seen.Has(key) {
			allErrs = append(allErrs, field.Duplicate(idxPath, fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		seen.Insert(key)
		if c.MinDomains != nil && *c.MinDomains <= 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("minDomains"), *c.MinDomains, "must be greater than 0"))
		}
		if c.LabelSelector != nil {
			allErrs = append(allErrs, validateSelector(c.LabelSelector, idxPath.Child("labelSelector"))...)
		}
	}
	return allErrs
}
