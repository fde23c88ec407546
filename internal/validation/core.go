package validation

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxObjectDataSize caps ConfigMap and Secret payloads (etcd value limits).
const maxObjectDataSize = 1024 * 1024

// immutableDataMsg is shared by ConfigMaps and Secrets marked immutable.
const immutableDataMsg = "field is immutable when `immutable` is set"

var (
	supportedAccessModes   = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}
	supportedReclaimPolicy = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}
	supportedVolumeModes   = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
	supportedLimitTypes    = []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}
	supportedQuotaScopes   = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeVolumeAttributesClass}
	supportedEventTypes    = []string{corev1.EventTypeNormal, corev1.EventTypeWarning}
	standardQuotaResources = sets.New("pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "cpu", "memory", "ephemeral-storage", "storage", "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage")
	integerQuotaResources  = sets.New("pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports", "services.loadbalancers")
)

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range ns.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return allErrs
}

// validateFinalizerName allows the built-in "kubernetes" finalizer and any
// domain-qualified name.
func validateFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := validateQualifiedName(name, fldPath)
	if len(allErrs) == 0 && !strings.Contains(name, "/") && name != string(corev1.FinalizerKubernetes) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return allErrs
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var allErrs field.ErrorList
	total := 0
	for _, key := range sortedKeys(cm.Data) {
		p := field.NewPath("data").Key(key)
		allErrs = append(allErrs, invalidMsgs(p, key, utilvalidation.IsConfigMapKey(key))...)
		if _, dup := cm.BinaryData[key]; dup {
			allErrs = append(allErrs, field.Invalid(p, key, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[key])
	}
	for _, key := range sortedKeys(cm.BinaryData) {
		allErrs = append(allErrs, invalidMsgs(field.NewPath("binaryData").Key(key), key, utilvalidation.IsConfigMapKey(key))...)
		total += len(cm.BinaryData[key])
	}
	if total > maxObjectDataSize {
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", maxObjectDataSize))
	}
	return allErrs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	if old.Immutable == nil || !*old.Immutable {
		return nil
	}
	var allErrs field.ErrorList
	if cm.Immutable == nil || !*cm.Immutable {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableDataMsg))
	}
	if !apiequality.Semantic.DeepEqual(cm.Data, old.Data) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableDataMsg))
	}
	if !apiequality.Semantic.DeepEqual(cm.BinaryData, old.BinaryData) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), immutableDataMsg))
	}
	return allErrs
}

// secretData merges stringData over data, the way the API server folds them
// together before storing.
func secretData(s *corev1.Secret) map[string][]byte {
	merged := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		merged[k] = v
	}
	for k, v := range s.StringData {
		merged[k] = []byte(v)
	}
	return merged
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	dataPath := field.NewPath("data")
	data := secretData(s)
	var allErrs field.ErrorList
	total := 0
	for _, key := range sortedKeys(data) {
		allErrs = append(allErrs, invalidMsgs(dataPath.Key(key), key, utilvalidation.IsConfigMapKey(key))...)
		total += len(data[key])
	}
	if total > maxObjectDataSize {
		allErrs = append(allErrs, field.TooLong(dataPath, "", maxObjectDataSize))
	}
	requireKey := func(key string) {
		if _, ok := data[key]; !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(key), ""))
		}
	}
	requireJSON := func(key string) {
		v, ok := data[key]
		if !ok {
			allErrs = append(allErrs, field.Required(dataPath.Key(key), ""))
			return
		}
		var parsed map[string]any
		if err := json.Unmarshal(v, &parsed); err != nil {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		requireJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		requireJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, hasUser := data[corev1.BasicAuthUsernameKey]
		_, hasPass := data[corev1.BasicAuthPasswordKey]
		if !hasUser && !hasPass {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""))
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(data[corev1.SSHAuthPrivateKey]) == 0 {
			allErrs = append(allErrs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		requireKey(corev1.TLSCertKey)
		requireKey(corev1.TLSPrivateKeyKey)
	}
	return allErrs
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	allErrs := immutable(s.Type, old.Type, field.NewPath("type"))
	if old.Immutable == nil || !*old.Immutable {
		return allErrs
	}
	if s.Immutable == nil || !*s.Immutable {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableDataMsg))
	}
	if !apiequality.Semantic.DeepEqual(secretData(s), secretData(old)) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableDataMsg))
	}
	return allErrs
}

func validateNode(node *corev1.Node) field.ErrorList {
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	cidrsPath := specPath.Child("podCIDRs")
	families := map[bool]bool{}
	for i, cidr := range node.Spec.PodCIDRs {
		errs := utilvalidation.IsValidCIDR(cidrsPath.Index(i), cidr)
		allErrs = append(allErrs, errs...)
		if len(errs) > 0 {
			continue
		}
		prefix, _ := netip.ParsePrefix(cidr)
		if families[prefix.Addr().Is4()] {
			allErrs = append(allErrs, field.Invalid(cidrsPath, node.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		families[prefix.Addr().Is4()] = true
	}
	if node.Spec.PodCIDR != "" {
		if len(node.Spec.PodCIDRs) == 0 {
			allErrs = append(allErrs, utilvalidation.IsValidCIDR(specPath.Child("podCIDR"), node.Spec.PodCIDR)...)
		} else if node.Spec.PodCIDRs[0] != node.Spec.PodCIDR {
			allErrs = append(allErrs, field.Invalid(specPath.Child("podCIDR"), node.Spec.PodCIDR, "must match the first element of podCIDRs"))
		}
	}
	allErrs = append(allErrs, validateTaints(node.Spec.Taints, specPath.Child("taints"))...)
	return allErrs
}

// validateTaints checks taint syntax and that key+effect pairs are unique.
func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		allErrs = append(allErrs, invalidMsgs(idxPath.Child("value"), t.Value, utilvalidation.IsValidLabelValue(t.Value))...)
		if t.Effect == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("effect"), ""))
		} else if !contains(supportedTaintEffects, t.Effect) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("effect"), t.Effect, supportedTaintEffects))
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		seen[t.Effect].Insert(t.Key)
	}
	return allErrs
}

func validateNodeUpdate(node, old *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	if len(old.Spec.PodCIDRs) > 0 && !apiequality.Semantic.DeepEqual(node.Spec.PodCIDRs, old.Spec.PodCIDRs) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && node.Spec.ProviderID != old.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return allErrs
}

func validateNodeStatus(node *corev1.Node) field.ErrorList {
	statusPath := field.NewPath("status")
	var allErrs field.ErrorList
	for _, name := range sortedKeys(node.Status.Capacity) {
		allErrs = append(allErrs, validateNonNegativeQuantity(node.Status.Capacity[name], statusPath.Child("capacity").Key(string(name)))...)
	}
	for _, name := range sortedKeys(node.Status.Allocatable) {
		allErrs = append(allErrs, validateNonNegativeQuantity(node.Status.Allocatable[name], statusPath.Child("allocatable").Key(string(name)))...)
	}
	return allErrs
}

func validateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	var allErrs field.ErrorList
	for i, ref := range sa.ImagePullSecrets {
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return allErrs
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(fldPath, "at least 1 access mode is required")}
	}
	var allErrs field.ErrorList
	for _, m := range modes {
		if !contains(supportedAccessModes, m) {
			allErrs = append(allErrs, field.NotSupported(fldPath, m, supportedAccessModes))
		}
	}
	if contains(modes, corev1.ReadWriteOncePod) && len(modes) > 1 {
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return allErrs
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	specPath := field.NewPath("spec")
	spec := &pv.Spec
	allErrs := validateAccessModes(spec.AccessModes, specPath.Child("accessModes"))
	capPath := specPath.Child("capacity")
	if len(spec.Capacity) == 0 {
		allErrs = append(allErrs, field.Required(capPath, ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		allErrs = append(allErrs, field.NotSupported(capPath, spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for _, name := range sortedKeys(spec.Capacity) {
		allErrs = append(allErrs, validateNonNegativeQuantity(spec.Capacity[name], capPath.Key(string(name)))...)
	}
	if spec.PersistentVolumeReclaimPolicy != "" && !contains(supportedReclaimPolicy, spec.PersistentVolumeReclaimPolicy) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("persistentVolumeReclaimPolicy"), spec.PersistentVolumeReclaimPolicy, supportedReclaimPolicy))
	}
	if spec.StorageClassName != "" {
		allErrs = append(allErrs, validateDNS1123Subdomain(spec.StorageClassName, specPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !contains(supportedVolumeModes, *spec.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("volumeMode"), *spec.VolumeMode, supportedVolumeModes))
	}
	if spec.NodeAffinity != nil && spec.NodeAffinity.Required != nil {
		allErrs = append(allErrs, validateNodeSelector(spec.NodeAffinity.Required, specPath.Child("nodeAffinity", "required"))...)
	}
	set := setPointerFields(reflect.ValueOf(&spec.PersistentVolumeSource).Elem())
	if len(set) == 0 {
		allErrs = append(allErrs, field.Required(specPath, "must specify a volume type"))
	}
	for _, name := range setAfterFirst(set) {
		allErrs = append(allErrs, field.Forbidden(specPath.Child(name), "may not specify more than 1 volume type"))
	}
	if hp := spec.HostPath; hp != nil && hp.Path == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("hostPath", "path"), ""))
	}
	if l := spec.Local; l != nil {
		if l.Path == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("local", "path"), ""))
		}
		if spec.NodeAffinity == nil {
			allErrs = append(allErrs, field.Required(specPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if c := spec.CSI; c != nil {
		if c.Driver == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("csi", "driver"), ""))
		}
		if c.VolumeHandle == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("csi", "volumeHandle"), ""))
		}
	}
	if n := spec.NFS; n != nil {
		if n.Server == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("nfs", "server"), ""))
		}
		if n.Path == "" {
			allErrs = append(allErrs, field.Required(specPath.Child("nfs", "path"), ""))
		}
	}
	return allErrs
}

func setAfterFirst(names []string) []string {
	if len(names) < 2 {
		return nil
	}
	return names[1:]
}

func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	var allErrs field.ErrorList
	if !apiequality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), "spec.persistentvolumesource is forbidden once bound"))
	}
	allErrs = append(allErrs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		allErrs = append(allErrs, immutable(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, field.NewPath("nodeAffinity"))...)
	}
	return allErrs
}

func validatePersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateAccessModes(spec.AccessModes, fldPath.Child("accessModes"))
	if spec.Selector != nil {
		allErrs = append(allErrs, validateSelector(spec.Selector, fldPath.Child("selector"))...)
	}
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		allErrs = append(allErrs, validateDNS1123Subdomain(*spec.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !contains(supportedVolumeModes, *spec.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("volumeMode"), *spec.VolumeMode, supportedVolumeModes))
	}
	if ds := spec.DataSource; ds != nil {
		if ds.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("dataSource", "name"), ""))
		}
		if ds.Kind == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("dataSource", "kind"), ""))
		}
	}
	return allErrs
}

// validatePersistentVolumeClaimUpdate allows only growing the storage
// request (bound claims) and binding to a volume.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validatePersistentVolumeClaimSpec(&pvc.Spec, specPath)
	newClone, oldClone := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldClone.VolumeName == "" {
		oldClone.VolumeName = newClone.VolumeName
	}
	newClone.VolumeAttributesClassName = oldClone.VolumeAttributesClassName
	if old.Status.Phase == corev1.ClaimBound {
		if newClone.Resources.Requests == nil {
			newClone.Resources.Requests = corev1.ResourceList{}
		}
		newClone.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
		if newSize.Cmp(oldSize) < 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than previous value"))
		}
	}
	if !apiequality.Semantic.DeepEqual(newClone, oldClone) {
		allErrs = append(allErrs, field.Forbidden(specPath, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	return allErrs
}

func validateResourceQuota(rq *corev1.ResourceQuota) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validateQuotaResources(rq.Spec.Hard, specPath.Child("hard"))
	allErrs = append(allErrs, validateQuotaResources(rq.Status.Hard, field.NewPath("status", "hard"))...)
	allErrs = append(allErrs, validateQuotaResources(rq.Status.Used, field.NewPath("status", "used"))...)
	for i, scope := range rq.Spec.Scopes {
		if !contains(supportedQuotaScopes, scope) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("scopes").Index(i), scope, supportedQuotaScopes))
		}
	}
	if sel := rq.Spec.ScopeSelector; sel != nil {
		for i, req := range sel.MatchExpressions {
			if !contains(supportedQuotaScopes, req.ScopeName) {
				allErrs = append(allErrs, field.NotSupported(specPath.Child("scopeSelector", "matchExpressions").Index(i).Child("scopeName"), req.ScopeName, supportedQuotaScopes))
			}
		}
	}
	return allErrs
}

// validateQuotaResources checks names and quantities of a quota list;
// object counts must be whole numbers.
func validateQuotaResources(list corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, rn := range sortedKeys(list) {
		name, q := string(rn), list[rn]
		p := fldPath.Key(name)
		allErrs = append(allErrs, validateQuotaResourceName(name, p)...)
		allErrs = append(allErrs, validateNonNegativeQuantity(q, p)...)
		if isIntegerQuotaResource(name) && q.MilliValue()%1000 != 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), "must be an integer"))
		}
	}
	return allErrs
}

func isIntegerQuotaResource(name string) bool {
	return integerQuotaResources.Has(name) || strings.HasPrefix(name, "count/")
}

func validateQuotaResourceName(name string, fldPath *field.Path) field.ErrorList {
	if strings.HasPrefix(name, "count/") {
		return nil
	}
	allErrs := validateQualifiedName(name, fldPath)
	if len(allErrs) > 0 {
		return allErrs
	}
	if !strings.Contains(name, "/") && !standardQuotaResources.Has(name) &&
		!strings.HasPrefix(name, "hugepages-") && !strings.HasPrefix(name, "requests.hugepages-") && !strings.HasPrefix(name, "limits.hugepages-") {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "must be a standard resource for quota"))
	}
	return allErrs
}

// validateLimitRange checks that min <= defaultRequest <= default <= max.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var allErrs field.ErrorList
	limitsPath := field.NewPath("spec", "limits")
	seenTypes := map[corev1.LimitType]bool{}
	for i, item := range lr.Spec.Limits {
		idxPath := limitsPath.Index(i)
		if item.Type == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("type"), ""))
		} else if !contains(supportedLimitTypes, item.Type) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("type"), item.Type, supportedLimitTypes))
		}
		if seenTypes[item.Type] {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("type"), item.Type))
		}
		seenTypes[item.Type] = true
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				allErrs = append(allErrs, field.Forbidden(idxPath.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				allErrs = append(allErrs, field.Forbidden(idxPath.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		allErrs = append(allErrs, validateLimitRangeItem(item, idxPath)...)
	}
	return allErrs
}

func validateLimitRangeItem(item corev1.LimitRangeItem, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	lists := []struct {
		name string
		list corev1.ResourceList
	}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}}
	for _, l := range lists {
		for _, rn := range sortedKeys(l.list) {
			allErrs = append(allErrs, validateNonNegativeQuantity(l.list[rn], fldPath.Child(l.name).Key(string(rn)))...)
		}
	}
	lessOrEqual := func(lo, hi corev1.ResourceList, loName, hiName string, loDesc, hiDesc string) {
		for _, rn := range sortedKeys(lo) {
			loQ := lo[rn]
			hiQ, ok := hi[rn]
			if ok && loQ.Cmp(hiQ) > 0 {
				allErrs = append(allErrs, field.Invalid(fldPath.Child(loName).Key(string(rn)), loQ,
					fmt.Sprintf("%s value %s is greater than %s value %s", loDesc, loQ.String(), hiDesc, hiQ.String())))
			}
		}
	}
	lessOrEqual(item.Min, item.Max, "min", "max", "min", "max")
	lessOrEqual(item.Min, item.Default, "min", "default", "min", "default")
	lessOrEqual(item.Min, item.DefaultRequest, "min", "defaultRequest", "min", "default request")
	lessOrEqual(item.Default, item.Max, "default", "max", "default", "max")
	lessOrEqual(item.DefaultRequest, item.Max, "defaultRequest", "max", "default request", "max")
	lessOrEqual(item.DefaultRequest, item.Default, "defaultRequest", "default", "default request", "default limit")
	one := resource.MustParse("1")
	for _, rn := range sortedKeys(item.MaxLimitRequestRatio) {
		q := item.MaxLimitRequestRatio[rn]
		if q.Cmp(one) < 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxLimitRequestRatio").Key(string(rn)), q, fmt.Sprintf("ratio %s is less than 1", q.String())))
		}
	}
	return allErrs
}

func validateCoreEvent(ev *corev1.Event) field.ErrorList {
	var allErrs field.ErrorList
	if ev.InvolvedObject.Namespace != "" && ev.Namespace != ev.InvolvedObject.Namespace {
		allErrs = append(allErrs, field.Invalid(field.NewPath("involvedObject", "namespace"), ev.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if ev.Type != "" && !contains(supportedEventTypes, ev.Type) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", ev.Type)))
	}
	return allErrs
}

func validateEventsEvent(ev *eventsv1.Event) field.ErrorList {
	var allErrs field.ErrorList
	if ev.EventTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if !contains(supportedEventTypes, ev.Type) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", ev.Type)))
	}
	if ev.ReportingController == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), ""))
	} else {
		allErrs = append(allErrs, validateQualifiedName(ev.ReportingController, field.NewPath("reportingController"))...)
	}
	if ev.ReportingInstance == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reportingInstance"), ""))
	}
	if ev.Action == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("action"), ""))
	}
	if ev.Reason == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reason"), ""))
	}
	if len(ev.Note) > 1024 {
		allErrs = append(allErrs, field.TooLong(field.NewPath("note"), "", 1024))
	}
	if ev.Regarding.Namespace != "" && ev.Namespace != ev.Regarding.Namespace {
		allErrs = append(allErrs, field.Invalid(field.NewPath("regarding", "namespace"), ev.Regarding.Namespace, "does not match event.namespace"))
	}
	return allErrs
}

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	allErrs = append(allErrs, nonNegativePtr(spec.LeaseTransitions, fldPath.Child("leaseTransitions"))...)
	return allErrs
}
