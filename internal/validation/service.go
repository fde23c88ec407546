package validation

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxClientIPAffinitySeconds is the upper bound for session stickiness.
const maxClientIPAffinitySeconds = 86400

var (
	supportedServiceTypes     = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}
	supportedSessionAffinity  = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedExternalTraffic  = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	supportedInternalTraffic  = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	supportedIPFamilies       = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	supportedIPFamilyPolicies = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack}
	supportedAddressTypes     = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}
)

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// validateService checks a Service spec. ClusterIP allocation and node port
// ranges are the allocator's job; here only syntax and consistency count.
func validateService(svc *corev1.Service) field.ErrorList {
	specPath := field.NewPath("spec")
	spec := &svc.Spec
	var allErrs field.ErrorList

	if len(spec.Ports) == 0 && !isHeadless(svc) && spec.Type != corev1.ServiceTypeExternalName {
		allErrs = append(allErrs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("clusterIP"), spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if spec.ClusterIP != "" {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if len(spec.ClusterIPs) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		allErrs = append(allErrs, validateExternalName(spec.ExternalName, specPath.Child("externalName"))...)
	}

	allErrs = append(allErrs, validateServicePorts(svc, specPath.Child("ports"))...)

	if spec.Selector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	allErrs = append(allErrs, validateSessionAffinity(spec, specPath)...)

	if spec.Type == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("type"), ""))
	} else if !contains(supportedServiceTypes, spec.Type) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("type"), spec.Type, supportedServiceTypes))
	}
	for i, ip := range spec.ExternalIPs {
		allErrs = append(allErrs, utilvalidation.IsValidIP(specPath.Child("externalIPs").Index(i), ip)...)
	}
	if spec.Type != corev1.ServiceTypeLoadBalancer {
		if len(spec.LoadBalancerSourceRanges) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.AllocateLoadBalancerNodePorts != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.LoadBalancerClass != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when service type is 'LoadBalancer'"))
		}
	}
	for i, cidr := range spec.LoadBalancerSourceRanges {
		allErrs = append(allErrs, utilvalidation.IsValidCIDR(specPath.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(cidr))...)
	}
	if spec.LoadBalancerClass != nil {
		allErrs = append(allErrs, validateQualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
	}
	allErrs = append(allErrs, validateTrafficPolicies(spec, specPath)...)
	allErrs = append(allErrs, validateClusterIPs(svc, specPath)...)
	return allErrs
}

// validateExternalName accepts a DNS name with an optional trailing dot.
func validateExternalName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalidMsgs(fldPath, name, utilvalidation.IsDNS1123Subdomain(strings.TrimSuffix(name, ".")))
}

func validateServicePorts(svc *corev1.Service, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	requireName := len(svc.Spec.Ports) > 1
	names := sets.New[string]()
	type protoPort struct {
		proto corev1.Protocol
		port  int32
	}
	seenPorts := map[protoPort]bool{}
	seenNodePorts := map[protoPort]bool{}
	for i, sp := range svc.Spec.Ports {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, validateServicePort(&sp, requireName, isHeadless(svc), names, idxPath)...)
		if svc.Spec.Type == corev1.ServiceTypeClusterIP && sp.NodePort != 0 {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		key := protoPort{sp.Protocol, sp.Port}
		if seenPorts[key] {
			allErrs = append(allErrs, field.Duplicate(idxPath, corev1.ServicePort{Protocol: sp.Protocol, Port: sp.Port}))
		}
		seenPorts[key] = true
		if sp.NodePort != 0 {
			nkey := protoPort{sp.Protocol, sp.NodePort}
			if seenNodePorts[nkey] {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("nodePort"), sp.NodePort))
			}
			seenNodePorts[nkey] = true
		}
	}
	return allErrs
}

func validateServicePort(sp *corev1.ServicePort, requireName, headless bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	namePath := fldPath.Child("name")
	if requireName && sp.Name == "" {
		allErrs = append(allErrs, field.Required(namePath, ""))
	} else if sp.Name != "" {
		allErrs = append(allErrs, validateDNS1123Label(sp.Name, namePath)...)
		if names.Has(sp.Name) {
			allErrs = append(allErrs, field.Duplicate(namePath, sp.Name))
		}
		names.Insert(sp.Name)
	}
	allErrs = append(allErrs, invalidMsgs(fldPath.Child("port"), sp.Port, utilvalidation.IsValidPortNum(int(sp.Port)))...)
	allErrs = append(allErrs, validateProtocol(sp.Protocol, fldPath.Child("protocol"))...)
	allErrs = append(allErrs, validatePortNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.NodePort != 0 {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("nodePort"), sp.NodePort, utilvalidation.IsValidPortNum(int(sp.NodePort)))...)
	}
	if sp.AppProtocol != nil {
		allErrs = append(allErrs, validateQualifiedName(*sp.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return allErrs
}

func validateSessionAffinity(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	affPath := specPath.Child("sessionAffinity")
	if spec.SessionAffinity == "" {
		allErrs = append(allErrs, field.Required(affPath, ""))
	} else if !contains(supportedSessionAffinity, spec.SessionAffinity) {
		allErrs = append(allErrs, field.NotSupported(affPath, spec.SessionAffinity, supportedSessionAffinity))
	}
	cfgPath := specPath.Child("sessionAffinityConfig")
	switch {
	case spec.SessionAffinity == corev1.ServiceAffinityClientIP:
		if spec.SessionAffinityConfig == nil || spec.SessionAffinityConfig.ClientIP == nil || spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			allErrs = append(allErrs, field.Required(cfgPath, fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)))
		} else if t := *spec.SessionAffinityConfig.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			allErrs = append(allErrs, field.Invalid(cfgPath.Child("clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
		}
	case spec.SessionAffinityConfig != nil:
		allErrs = append(allErrs, field.Forbidden(cfgPath, fmt.Sprintf("must not be set when session affinity is %s", spec.SessionAffinity)))
	}
	return allErrs
}

func validateTrafficPolicies(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	etpPath := specPath.Child("externalTrafficPolicy")
	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	switch {
	case !external && spec.ExternalTrafficPolicy != "":
		allErrs = append(allErrs, field.Invalid(etpPath, spec.ExternalTrafficPolicy, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
	case external && spec.ExternalTrafficPolicy == "":
		allErrs = append(allErrs, field.Required(etpPath, ""))
	case external && !contains(supportedExternalTraffic, spec.ExternalTrafficPolicy):
		allErrs = append(allErrs, field.NotSupported(etpPath, spec.ExternalTrafficPolicy, supportedExternalTraffic))
	}
	if spec.HealthCheckNodePort != 0 {
		if spec.Type != corev1.ServiceTypeLoadBalancer || spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			allErrs = append(allErrs, field.Invalid(specPath.Child("healthCheckNodePort"), spec.HealthCheckNodePort,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			allErrs = append(allErrs, invalidMsgs(specPath.Child("healthCheckNodePort"), spec.HealthCheckNodePort, utilvalidation.IsValidPortNum(int(spec.HealthCheckNodePort)))...)
		}
	}
	if spec.InternalTrafficPolicy != nil && !contains(supportedInternalTraffic, *spec.InternalTrafficPolicy) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("internalTrafficPolicy"), *spec.InternalTrafficPolicy, supportedInternalTraffic))
	}
	return allErrs
}

// validateClusterIPs checks the user-supplied IPs; "None" marks a headless
// service and must stand alone.
func validateClusterIPs(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	var allErrs field.ErrorList
	ipsPath := specPath.Child("clusterIPs")
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != spec.ClusterIPs[0] {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(spec.ClusterIPs) == 0 && spec.ClusterIP != "" && spec.ClusterIP != corev1.ClusterIPNone {
		allErrs = append(allErrs, utilvalidation.IsValidIP(specPath.Child("clusterIP"), spec.ClusterIP)...)
	}
	if len(spec.ClusterIPs) > 2 {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	families := map[bool]bool{}
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			if i != 0 || len(spec.ClusterIPs) != 1 {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), ip, "'None' must be the first and only value"))
			}
			continue
		}
		errs := utilvalidation.IsValidIP(ipsPath.Index(i), ip)
		allErrs = append(allErrs, errs...)
		if len(errs) > 0 {
			continue
		}
		addr, _ := netip.ParseAddr(ip)
		if families[addr.Is4()] {
			allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
		families[addr.Is4()] = true
	}
	if spec.IPFamilyPolicy != nil && !contains(supportedIPFamilyPolicies, *spec.IPFamilyPolicy) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilyPolicy"), *spec.IPFamilyPolicy, supportedIPFamilyPolicies))
	}
	seen := map[corev1.IPFamily]bool{}
	for i, fam := range spec.IPFamilies {
		if !contains(supportedIPFamilies, fam) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilies").Index(i), fam, supportedIPFamilies))
		}
		if seen[fam] {
			allErrs = append(allErrs, field.Duplicate(specPath.Child("ipFamilies").Index(i), fam))
		}
		seen[fam] = true
	}
	return allErrs
}

// validateServiceUpdate adds the rule that allocated cluster IPs stay put
// (switching to or from ExternalName releases or allocates them anew).
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	allErrs := validateService(svc)
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return allErrs
	}
	oldIPs := primaryIPs(old)
	newIPs := primaryIPs(svc)
	if len(oldIPs) > 0 && (len(newIPs) == 0 || newIPs[0] != oldIPs[0]) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), newIPs, "may not change once set"))
	}
	return allErrs
}

func primaryIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return nil
}

func validateLoadBalancerStatus(st *corev1.LoadBalancerStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ing := range st.Ingress {
		idxPath := fldPath.Child("ingress").Index(i)
		if ing.IP != "" {
			allErrs = append(allErrs, utilvalidation.IsValidIP(idxPath.Child("ip"), ing.IP)...)
		}
		if ing.Hostname != "" {
			allErrs = append(allErrs, validateDNS1123Subdomain(ing.Hostname, idxPath.Child("hostname"))...)
			if _, err := netip.ParseAddr(ing.Hostname); err == nil {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	var allErrs field.ErrorList
	subsetsPath := field.NewPath("subsets")
	for i, ss := range ep.Subsets {
		idxPath := subsetsPath.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, addr := range ss.Addresses {
			allErrs = append(allErrs, validateEndpointAddress(&addr, idxPath.Child("addresses").Index(j))...)
		}
		for j, addr := range ss.NotReadyAddresses {
			allErrs = append(allErrs, validateEndpointAddress(&addr, idxPath.Child("notReadyAddresses").Index(j))...)
		}
		requireName := len(ss.Ports) > 1
		for j, port := range ss.Ports {
			pPath := idxPath.Child("ports").Index(j)
			if requireName && port.Name == "" {
				allErrs = append(allErrs, field.Required(pPath.Child("name"), ""))
			} else if port.Name != "" {
				allErrs = append(allErrs, validateDNS1123Label(port.Name, pPath.Child("name"))...)
			}
			allErrs = append(allErrs, invalidMsgs(pPath.Child("port"), port.Port, utilvalidation.IsValidPortNum(int(port.Port)))...)
			allErrs = append(allErrs, validateProtocol(port.Protocol, pPath.Child("protocol"))...)
		}
	}
	return allErrs
}

func validateEndpointAddress(addr *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	allErrs := utilvalidation.IsValidIP(fldPath.Child("ip"), addr.IP)
	if addr.Hostname != "" {
		allErrs = append(allErrs, validateDNS1123Label(addr.Hostname, fldPath.Child("hostname"))...)
	}
	if addr.NodeName != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(*addr.NodeName, fldPath.Child("nodeName"))...)
	}
	if len(allErrs) > 0 {
		return allErrs
	}
	if ip, err := netip.ParseAddr(addr.IP); err == nil {
		switch {
		case ip.IsUnspecified():
			allErrs = append(allErrs, field.Invalid(fldPath.Child("ip"), addr.IP, "may not be unspecified (0.0.0.0)"))
		case ip.IsLoopback():
			allErrs = append(allErrs, field.Invalid(fldPath.Child("ip"), addr.IP, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
		case ip.IsLinkLocalUnicast():
			allErrs = append(allErrs, field.Invalid(fldPath.Child("ip"), addr.IP, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
		case ip.IsLinkLocalMulticast():
			allErrs = append(allErrs, field.Invalid(fldPath.Child("ip"), addr.IP, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
		}
	}
	return allErrs
}

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var allErrs field.ErrorList
	if !contains(supportedAddressTypes, es.AddressType) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("addressType"), es.AddressType, supportedAddressTypes))
	}
	epsPath := field.NewPath("endpoints")
	if len(es.Endpoints) > 1000 {
		allErrs = append(allErrs, field.TooMany(epsPath, len(es.Endpoints), 1000))
	}
	for i, ep := range es.Endpoints {
		idxPath := epsPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > 100 {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), 100))
		}
		for j, a := range ep.Addresses {
			allErrs = append(allErrs, validateSliceAddress(es.AddressType, a, addrPath.Index(j))...)
		}
		if ep.Hostname != nil {
			allErrs = append(allErrs, validateDNS1123Label(*ep.Hostname, idxPath.Child("hostname"))...)
		}
		if ep.NodeName != nil {
			allErrs = append(allErrs, validateDNS1123Subdomain(*ep.NodeName, idxPath.Child("nodeName"))...)
		}
	}
	portsPath := field.NewPath("ports")
	names := sets.New[string]()
	for i, p := range es.Ports {
		idxPath := portsPath.Index(i)
		if p.Name != nil {
			if *p.Name != "" {
				allErrs = append(allErrs, validateDNS1123Label(*p.Name, idxPath.Child("name"))...)
			}
			if names.Has(*p.Name) {
				allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), *p.Name))
			}
			names.Insert(*p.Name)
		}
		if p.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else {
			allErrs = append(allErrs, validateProtocol(*p.Protocol, idxPath.Child("protocol"))...)
		}
		if p.Port != nil {
			allErrs = append(allErrs, invalidMsgs(idxPath.Child("port"), *p.Port, utilvalidation.IsInRange(int(*p.Port), 0, 65535))...)
		}
		if p.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return allErrs
}

func validateSliceAddress(addrType discoveryv1.AddressType, a string, fldPath *field.Path) field.ErrorList {
	switch addrType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		errs := utilvalidation.IsValidIP(fldPath, a)
		if len(errs) > 0 {
			return errs
		}
		ip, _ := netip.ParseAddr(a)
		if ip.Is4() != (addrType == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(fldPath, a, fmt.Sprintf("must be an %s address", addrType))}
		}
	case discoveryv1.AddressTypeFQDN:
		return validateDNS1123Subdomain(a, fldPath)
	}
	return nil
}
