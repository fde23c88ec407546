package printers

import (
	"fmt"
	"strconv"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations that mark a StorageClass as the cluster default.
const (
	defaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func leaseColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn(),
	}
}

func (p *Printer) leaseRow(l *coordinationv1.Lease) []interface{} {
	return []interface{}{l.Name, stringPtrOr(l.Spec.HolderIdentity, ""), p.since(l.CreationTimestamp)}
}

func endpointSliceColumns() []metav1.TableColumnDefinition {
	doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("AddressType", "string", doc["addressType"]),
		col("Ports", "string", doc["ports"]),
		col("Endpoints", "string", doc["endpoints"]),
		ageColumn(),
	}
}

func (p *Printer) endpointSliceRow(es *discoveryv1.EndpointSlice) []interface{} {
	ports := make([]string, 0, len(es.Ports))
	for _, port := range es.Ports {
		switch {
		case port.Port != nil:
			ports = append(ports, strconv.Itoa(int(*port.Port)))
		case port.Name != nil:
			ports = append(ports, *port.Name)
		default:
			ports = append(ports, "*")
		}
	}
	var addrs []string
	for _, ep := range es.Endpoints {
		addrs = append(addrs, ep.Addresses...)
	}
	return []interface{}{
		es.Name,
		string(es.AddressType),
		orUnset(limitedList(ports, len(ports), ",")),
		orUnset(limitedList(addrs, len(addrs), ",")),
		p.since(es.CreationTimestamp),
	}
}

func orUnset(s string) string {
	if s == "" {
		return unset
	}
	return s
}

func ingressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
		col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
		col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
		col("Ports", "string", "Ports of TLS configurations that open"),
		ageColumn(),
	}
}

func (p *Printer) ingressRow(ing *networkingv1.Ingress) []interface{} {
	addrs := make([]string, 0, len(ing.Status.LoadBalancer.Ingress))
	for _, in := range ing.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else {
			addrs = append(addrs, in.Hostname)
		}
	}
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []interface{}{
		ing.Name,
		stringPtrOr(ing.Spec.IngressClassName, none),
		ingressHosts(ing.Spec.Rules),
		strings.Join(sortedUnique(addrs), ","),
		ports,
		p.since(ing.CreationTimestamp),
	}
}

// ingressHosts lists the hosts of the first listLimit rules; the "more"
// tally counts rules, not hosts, as upstream does.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	for i, r := range rules {
		if i >= listLimit {
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if len(rules) > listLimit {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-listLimit)
	}
	return s
}

func ingressClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Controller", "string", "Controller that is responsible for handling this class"),
		col("Parameters", "string", "A reference to a resource with additional parameters"),
		ageColumn(),
	}
}

func (p *Printer) ingressClassRow(ic *networkingv1.IngressClass) []interface{} {
	params := none
	if ref := ic.Spec.Parameters; ref != nil {
		params = ref.Kind
		if ref.APIGroup != nil {
			params += "." + *ref.APIGroup
		}
		params += "/" + ref.Name
	}
	return []interface{}{ic.Name, ic.Spec.Controller, params, p.since(ic.CreationTimestamp)}
}

func networkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Pod-Selector", "string", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
		ageColumn(),
	}
}

func (p *Printer) networkPolicyRow(np *networkingv1.NetworkPolicy) []interface{} {
	return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), p.since(np.CreationTimestamp)}
}

func podDisruptionBudgetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Min Available", "string", "The minimum number of pods that must be available."),
		col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
		col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
		ageColumn(),
	}
}

func (p *Printer) podDisruptionBudgetRow(pdb *policyv1.PodDisruptionBudget) []interface{} {
	minAvailable, maxUnavailable := "N/A", "N/A"
	if pdb.Spec.MinAvailable != nil {
		minAvailable = pdb.Spec.MinAvailable.String()
	}
	if pdb.Spec.MaxUnavailable != nil {
		maxUnavailable = pdb.Spec.MaxUnavailable.String()
	}
	return []interface{}{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), p.since(pdb.CreationTimestamp)}
}

func bindingColumns(kind string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Role", "string", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
		ageColumn(),
		wide(col("Users", "string", "Users in the "+kind)),
		wide(col("Groups", "string", "Groups in the "+kind)),
		wide(col("ServiceAccounts", "string", "ServiceAccounts in the "+kind)),
	}
}

func (p *Printer) roleBindingRow(rb *rbacv1.RoleBinding) []interface{} {
	return p.bindingRow(rb.ObjectMeta, rb.RoleRef, rb.Subjects)
}

func (p *Printer) clusterRoleBindingRow(crb *rbacv1.ClusterRoleBinding) []interface{} {
	return p.bindingRow(crb.ObjectMeta, crb.RoleRef, crb.Subjects)
}

func (p *Printer) bindingRow(om metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{
		om.Name,
		ref.Kind + "/" + ref.Name,
		p.since(om.CreationTimestamp),
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(sas, ", "),
	}
}

func storageClassColumns() []metav1.TableColumnDefinition {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Provisioner", "string", doc["provisioner"]),
		col("ReclaimPolicy", "string", doc["reclaimPolicy"]),
		col("VolumeBindingMode", "string", doc["volumeBindingMode"]),
		col("AllowVolumeExpansion", "string", doc["allowVolumeExpansion"]),
		ageColumn(),
	}
}

func (p *Printer) storageClassRow(sc *storagev1.StorageClass) []interface{} {
	name := sc.Name
	if sc.Annotations[defaultStorageClassAnnotation] == "true" || sc.Annotations[betaDefaultStorageClassAnnotation] == "true" {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		binding = string(*sc.VolumeBindingMode)
	}
	expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	return []interface{}{name, sc.Provisioner, reclaim, binding, expand, p.since(sc.CreationTimestamp)}
}

func priorityClassColumns() []metav1.TableColumnDefinition {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Value", "integer", doc["value"]),
		col("Global-Default", "boolean", doc["globalDefault"]),
		ageColumn(),
		col("PreemptionPolicy", "string", doc["preemptionPolicy"]),
	}
}

func (p *Printer) priorityClassRow(pc *schedulingv1.PriorityClass) []interface{} {
	policy := ""
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, p.since(pc.CreationTimestamp), policy}
}
