package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	// nodeRolePrefix labels (node-role.kubernetes.io/<role>) and the legacy
	// kubernetes.io/role=<role> label both name node roles.
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"

	// betaStorageClassAnnotation predates spec.storageClassName and still
	// takes precedence over it.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

func namespaceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", "string", "The status of the namespace"),
		ageColumn(),
	}
}

func (p *Printer) namespaceRow(ns *corev1.Namespace) []interface{} {
	return []interface{}{ns.Name, string(ns.Status.Phase), p.since(ns.CreationTimestamp)}
}

func podTemplateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Containers", "string", "Names of each container in the template."),
		col("Images", "string", "Images referenced by each container in the template."),
		col("Pod Labels", "string", "The labels for the pod template."),
	}
}

func (p *Printer) podTemplateRow(pt *corev1.PodTemplate) []interface{} {
	names, images := containerCells(pt.Template.Spec.Containers)
	return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
}

func serviceColumns() []metav1.TableColumnDefinition {
	doc := corev1.ServiceSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Type", "string", doc["type"]),
		col("Cluster-IP", "string", doc["clusterIP"]),
		col("External-IP", "string", doc["externalIPs"]),
		col("Port(s)", "string", doc["ports"]),
		ageColumn(),
		wide(col("Selector", "string", doc["selector"])),
	}
}

func (p *Printer) serviceRow(svc *corev1.Service) []interface{} {
	clusterIP := svc.Spec.ClusterIP
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	return []interface{}{
		svc.Name,
		string(svc.Spec.Type),
		orNone(clusterIP),
		serviceExternalIP(svc),
		orNone(servicePorts(svc.Spec.Ports)),
		p.since(svc.CreationTimestamp),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP renders EXTERNAL-IP. The server always renders the wide
// form, so load-balancer addresses are never truncated here.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return none
	case corev1.ServiceTypeLoadBalancer:
		lb := loadBalancerAddresses(svc.Status.LoadBalancer.Ingress)
		all := append(lb, svc.Spec.ExternalIPs...)
		if len(all) > 0 {
			return strings.Join(all, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

func loadBalancerAddresses(ingress []corev1.LoadBalancerIngress) []string {
	addrs := make([]string, 0, len(ingress))
	for _, in := range ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else {
			addrs = append(addrs, in.Hostname)
		}
	}
	return sortedUnique(addrs)
}

func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, port := range ports {
		if port.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", port.Port, port.NodePort, port.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

func endpointsColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn(),
	}
}

//nolint:staticcheck // Endpoints is deprecated upstream but still served.
func (p *Printer) endpointsRow(ep *corev1.Endpoints) []interface{} {
	return []interface{}{ep.Name, formatEndpoints(ep.Subsets), p.since(ep.CreationTimestamp)}
}

// formatEndpoints lists address:port pairs (bare addresses for port-less
// headless subsets), capped at listLimit.
//
//nolint:staticcheck // EndpointSubset is deprecated upstream but still served.
func formatEndpoints(subsets []corev1.EndpointSubset) string {
	if len(subsets) == 0 {
		return none
	}
	var list []string
	total := 0
	for _, ss := range subsets {
		if len(ss.Ports) == 0 {
			for _, addr := range ss.Addresses {
				list = append(list, addr.IP)
			}
			total += len(ss.Addresses)
			continue
		}
		for _, port := range ss.Ports {
			for _, addr := range ss.Addresses {
				list = append(list, net.JoinHostPort(addr.IP, strconv.Itoa(int(port.Port))))
			}
			total += len(ss.Addresses)
		}
	}
	return limitedList(list, total, ",")
}

func configMapColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn(),
	}
}

func (p *Printer) configMapRow(cm *corev1.ConfigMap) []interface{} {
	return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), p.since(cm.CreationTimestamp)}
}

func secretColumns() []metav1.TableColumnDefinition {
	doc := corev1.Secret{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Type", "string", doc["type"]),
		col("Data", "string", doc["data"]),
		ageColumn(),
	}
}

// secretRow counts stringData too: the server folds it into data on write,
// so counting both keeps the cell right for objects not yet normalised.
func (p *Printer) secretRow(s *corev1.Secret) []interface{} {
	keys := len(s.Data)
	for k := range s.StringData {
		if _, dup := s.Data[k]; !dup {
			keys++
		}
	}
	return []interface{}{s.Name, string(s.Type), int64(keys), p.since(s.CreationTimestamp)}
}

func serviceAccountColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn(),
	}
}

func (p *Printer) serviceAccountRow(sa *corev1.ServiceAccount) []interface{} {
	return []interface{}{sa.Name, int64(len(sa.Secrets)), p.since(sa.CreationTimestamp)}
}

func nodeColumns() []metav1.TableColumnDefinition {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	addrs := corev1.NodeStatus{}.SwaggerDoc()["addresses"]
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", "string", "The status of the node"),
		col("Roles", "string", "The roles of the node"),
		ageColumn(),
		col("Version", "string", info["kubeletVersion"]),
		wide(col("Internal-IP", "string", addrs)),
		wide(col("External-IP", "string", addrs)),
		wide(col("OS-Image", "string", info["osImage"])),
		wide(col("Kernel-Version", "string", info["kernelVersion"])),
		wide(col("Container-Runtime", "string", info["containerRuntimeVersion"])),
	}
}

func (p *Printer) nodeRow(n *corev1.Node) []interface{} {
	roles := strings.Join(nodeRoles(n.Labels), ",")
	info := n.Status.NodeInfo
	return []interface{}{
		n.Name,
		nodeStatus(n),
		orNone(roles),
		p.since(n.CreationTimestamp),
		info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP),
		nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage),
		orUnknown(info.KernelVersion),
		orUnknown(info.ContainerRuntimeVersion),
	}
}

func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}

// nodeStatus reports only the Ready condition, plus SchedulingDisabled for
// cordoned nodes.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(nodeLabels map[string]string) []string {
	var roles []string
	for k, v := range nodeLabels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			roles = append(roles, strings.TrimPrefix(k, nodeRolePrefix))
		case k == nodeRoleLabel:
			roles = append(roles, v)
		}
	}
	return sortedUnique(roles)
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

func persistentVolumeColumns() []metav1.TableColumnDefinition {
	spec := corev1.PersistentVolumeSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Capacity", "string", spec["capacity"]),
		col("Access Modes", "string", spec["accessModes"]),
		col("Reclaim Policy", "string", spec["persistentVolumeReclaimPolicy"]),
		col("Status", "string", status["phase"]),
		col("Claim", "string", spec["claimRef"]),
		col("StorageClass", "string", "StorageClass of the pv"),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
		col("Reason", "string", status["reason"]),
		ageColumn(),
		wide(col("VolumeMode", "string", spec["volumeMode"])),
	}
}

func (p *Printer) persistentVolumeRow(pv *corev1.PersistentVolume) []interface{} {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class := pv.Spec.StorageClassName
	if v, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
		class = v
	}
	return []interface{}{
		pv.Name,
		capacity.String(),
		accessModesString(pv.Spec.AccessModes),
		string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase,
		claim,
		class,
		stringPtrOr(pv.Spec.VolumeAttributesClassName, unset),
		pv.Status.Reason,
		p.since(pv.CreationTimestamp),
		volumeModeString(pv.Spec.VolumeMode),
	}
}

func persistentVolumeClaimColumns() []metav1.TableColumnDefinition {
	spec := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	status := corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", "string", status["phase"]),
		col("Volume", "string", spec["volumeName"]),
		col("Capacity", "string", status["capacity"]),
		col("Access Modes", "string", status["accessModes"]),
		col("StorageClass", "string", "StorageClass of the pvc"),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
		ageColumn(),
		wide(col("VolumeMode", "string", spec["volumeMode"])),
	}
}

// persistentVolumeClaimRow shows capacity and access modes only once the
// claim is bound to a volume.
func (p *Printer) persistentVolumeClaimRow(pvc *corev1.PersistentVolumeClaim) []interface{} {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
		modes = accessModesString(pvc.Status.AccessModes)
	}
	class := stringPtrOr(pvc.Spec.StorageClassName, "")
	if v, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		class = v
	}
	return []interface{}{
		pvc.Name,
		phase,
		pvc.Spec.VolumeName,
		capacity,
		modes,
		class,
		stringPtrOr(pvc.Spec.VolumeAttributesClassName, unset),
		p.since(pvc.CreationTimestamp),
		volumeModeString(pvc.Spec.VolumeMode),
	}
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return unset
	}
	return string(*m)
}

func stringPtrOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func resourceQuotaColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
		col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
		ageColumn(),
	}
}

// resourceQuotaRow splits "used/hard" pairs into the Request column and,
// for limits.* resources, the Limit column.
func (p *Printer) resourceQuotaRow(rq *corev1.ResourceQuota) []interface{} {
	names := make([]string, 0, len(rq.Status.Hard))
	for name := range rq.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, name := range names {
		used := rq.Status.Used[corev1.ResourceName(name)]
		hard := rq.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if prefix, _, found := strings.Cut(name, "."); found && prefix == "limits" {
			limits = append(limits, entry)
		} else {
			requests = append(requests, entry)
		}
	}
	return []interface{}{rq.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), p.since(rq.CreationTimestamp)}
}

func replicationControllerColumns() []metav1.TableColumnDefinition {
	spec := corev1.ReplicationControllerSpec{}.SwaggerDoc()
	status := corev1.ReplicationControllerStatus{}.SwaggerDoc()
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", "integer", spec["replicas"]),
		col("Current", "integer", status["replicas"]),
		col("Ready", "integer", status["readyReplicas"]),
		ageColumn(),
	}, templateColumns(spec["selector"])...)
}

func (p *Printer) replicationControllerRow(rc *corev1.ReplicationController) []interface{} {
	var containers []corev1.Container
	if rc.Spec.Template != nil {
		containers = rc.Spec.Template.Spec.Containers
	}
	names, images := containerCells(containers)
	return []interface{}{
		rc.Name,
		int64(int32Or(rc.Spec.Replicas, 1)),
		int64(rc.Status.Replicas),
		int64(rc.Status.ReadyReplicas),
		p.since(rc.CreationTimestamp),
		names,
		images,
		labels.FormatLabels(rc.Spec.Selector),
	}
}

func componentStatusColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", "string", "Status of the component conditions"),
		col("Message", "string", "Message of the component conditions"),
		col("Error", "string", "Error of the component conditions"),
	}
}

//nolint:staticcheck // ComponentStatus is deprecated upstream but still served.
func (p *Printer) componentStatusRow(cs *corev1.ComponentStatus) []interface{} {
	status, message, errText := "Unknown", "", ""
	for _, c := range cs.Conditions {
		if c.Type != corev1.ComponentHealthy {
			continue
		}
		status = "Unhealthy"
		if c.Status == corev1.ConditionTrue {
			status = "Healthy"
		}
		message, errText = c.Message, c.Error
		break
	}
	return []interface{}{cs.Name, status, message, errText}
}
