package validation

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedPathTypes      = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific}
	supportedNetPolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	supportedICScopes       = []string{networkingv1.IngressClassParametersReferenceScopeNamespace, networkingv1.IngressClassParametersReferenceScopeCluster}
)

func validateIngressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.DefaultBackend != nil {
		allErrs = append(allErrs, validateIngressBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	} else if len(spec.Rules) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("rules"), spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	for i, rule := range spec.Rules {
		allErrs = append(allErrs, validateIngressRule(&rule, fldPath.Child("rules").Index(i))...)
	}
	for i, tls := range spec.TLS {
		for j, host := range tls.Hosts {
			allErrs = append(allErrs, validateIngressHost(host, fldPath.Child("tls").Index(i).Child("hosts").Index(j))...)
		}
	}
	if spec.IngressClassName != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(*spec.IngressClassName, fldPath.Child("ingressClassName"))...)
	}
	return allErrs
}

// validateIngressHost accepts a DNS name or a "*." wildcard but not an IP.
func validateIngressHost(host string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(host, "*") {
		return invalidMsgs(fldPath, host, utilvalidation.IsWildcardDNS1123Subdomain(host))
	}
	return validateDNS1123Subdomain(host, fldPath)
}

func validateIngressRule(rule *networkingv1.IngressRule, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if rule.Host != "" {
		allErrs = append(allErrs, validateIngressHost(rule.Host, fldPath.Child("host"))...)
	}
	if rule.HTTP == nil {
		return allErrs
	}
	pathsPath := fldPath.Child("http", "paths")
	if len(rule.HTTP.Paths) == 0 {
		allErrs = append(allErrs, field.Required(pathsPath, ""))
	}
	for i, p := range rule.HTTP.Paths {
		allErrs = append(allErrs, validateHTTPIngressPath(&p, pathsPath.Index(i))...)
	}
	return allErrs
}

func validateHTTPIngressPath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	typePath := fldPath.Child("pathType")
	switch {
	case p.PathType == nil:
		allErrs = append(allErrs, field.Required(typePath, "pathType must be specified"))
	case !contains(supportedPathTypes, *p.PathType):
		allErrs = append(allErrs, field.NotSupported(typePath, *p.PathType, supportedPathTypes))
	case *p.PathType == networkingv1.PathTypeExact || *p.PathType == networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
		}
		for _, bad := range []string{"//", "/./", "/../", "%2f", "%2F"} {
			if strings.Contains(p.Path, bad) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, fmt.Sprintf("must not contain '%s'", bad)))
			}
		}
	case p.Path != "" && !strings.HasPrefix(p.Path, "/"):
		allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
	}
	return append(allErrs, validateIngressBackend(&p.Backend, fldPath.Child("backend"))...)
}

// validateIngressBackend requires exactly one of service or resource.
func validateIngressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case b.Service != nil && b.Resource != nil:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "cannot set both resource and service backends"))
	case b.Resource != nil:
		if b.Resource.Kind == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("resource", "name"), ""))
		}
	case b.Service != nil:
		svcPath := fldPath.Child("service")
		if b.Service.Name == "" {
			allErrs = append(allErrs, field.Required(svcPath.Child("name"), ""))
		} else {
			allErrs = append(allErrs, invalidMsgs(svcPath.Child("name"), b.Service.Name, utilvalidation.IsDNS1035Label(b.Service.Name))...)
		}
		portPath := svcPath.Child("port")
		hasName, hasNumber := b.Service.Port.Name != "", b.Service.Port.Number != 0
		switch {
		case hasName && hasNumber:
			allErrs = append(allErrs, field.Invalid(portPath, b.Service.Port, "cannot set both port name & port number"))
		case hasName:
			allErrs = append(allErrs, invalidMsgs(portPath.Child("name"), b.Service.Port.Name, utilvalidation.IsValidPortName(b.Service.Port.Name))...)
		case hasNumber:
			allErrs = append(allErrs, invalidMsgs(portPath.Child("number"), b.Service.Port.Number, utilvalidation.IsValidPortNum(int(b.Service.Port.Number)))...)
		default:
			allErrs = append(allErrs, field.Required(portPath, "port name or number is required"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "resource or service backend is required"))
	}
	return allErrs
}

func validateIngressClassSpec(spec *networkingv1.IngressClassSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	ctrlPath := fldPath.Child("controller")
	if spec.Controller == "" {
		allErrs = append(allErrs, field.Required(ctrlPath, ""))
	} else {
		if len(spec.Controller) > 250 {
			allErrs = append(allErrs, field.TooLong(ctrlPath, "", 250))
		}
		allErrs = append(allErrs, utilvalidation.IsDomainPrefixedPath(ctrlPath, spec.Controller)...)
	}
	if p := spec.Parameters; p != nil {
		pPath := fldPath.Child("parameters")
		if p.Kind == "" {
			allErrs = append(allErrs, field.Required(pPath.Child("kind"), ""))
		}
		if p.Name == "" {
			allErrs = append(allErrs, field.Required(pPath.Child("name"), ""))
		}
		if p.Scope != nil {
			if !contains(supportedICScopes, *p.Scope) {
				allErrs = append(allErrs, field.NotSupported(pPath.Child("scope"), *p.Scope, supportedICScopes))
			}
			if *p.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace && p.Namespace == nil {
				allErrs = append(allErrs, field.Required(pPath.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			}
			if *p.Scope == networkingv1.IngressClassParametersReferenceScopeCluster && p.Namespace != nil {
				allErrs = append(allErrs, field.Forbidden(pPath.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		}
	}
	return allErrs
}

func validateNetworkPolicySpec(spec *networkingv1.NetworkPolicySpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateSelector(&spec.PodSelector, fldPath.Child("podSelector"))
	for i, rule := range spec.Ingress {
		rPath := fldPath.Child("ingress").Index(i)
		allErrs = append(allErrs, validateNetworkPolicyPorts(rule.Ports, rPath.Child("ports"))...)
		for j, peer := range rule.From {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&peer, rPath.Child("from").Index(j))...)
		}
	}
	for i, rule := range spec.Egress {
		rPath := fldPath.Child("egress").Index(i)
		allErrs = append(allErrs, validateNetworkPolicyPorts(rule.Ports, rPath.Child("ports"))...)
		for j, peer := range rule.To {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&peer, rPath.Child("to").Index(j))...)
		}
	}
	for i, pt := range spec.PolicyTypes {
		if !contains(supportedNetPolicyTypes, pt) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("policyTypes").Index(i), pt, supportedNetPolicyTypes))
		}
	}
	if len(spec.PolicyTypes) > len(supportedNetPolicyTypes) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("policyTypes"), spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	return allErrs
}

func validateNetworkPolicyPorts(ports []networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		if p.Protocol != nil {
			allErrs = append(allErrs, validateProtocol(*p.Protocol, idxPath.Child("protocol"))...)
		}
		if p.Port != nil {
			allErrs = append(allErrs, validatePortNumOrName(*p.Port, idxPath.Child("port"))...)
		}
		if p.EndPort != nil {
			switch {
			case p.Port == nil:
				allErrs = append(allErrs, field.Required(idxPath.Child("port"), "must be specified when endPort is specified"))
			case p.Port.Type != 0:
				allErrs = append(allErrs, field.Forbidden(idxPath.Child("endPort"), "may not be specified when `port` is non-numeric"))
			case *p.EndPort < p.Port.IntVal:
				allErrs = append(allErrs, field.Invalid(idxPath.Child("endPort"), *p.EndPort, "must be greater than or equal to `port`"))
			}
		}
	}
	return allErrs
}

// validateNetworkPolicyPeer requires either selectors or an ipBlock.
func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		allErrs = append(allErrs, validateSelector(peer.PodSelector, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		allErrs = append(allErrs, validateSelector(peer.NamespaceSelector, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		bPath := fldPath.Child("ipBlock")
		if peer.IPBlock.CIDR == "" {
			allErrs = append(allErrs, field.Required(bPath.Child("cidr"), ""))
		} else {
			allErrs = append(allErrs, utilvalidation.IsValidCIDR(bPath.Child("cidr"), peer.IPBlock.CIDR)...)
		}
		for i, ex := range peer.IPBlock.Except {
			allErrs = append(allErrs, utilvalidation.IsValidCIDR(bPath.Child("except").Index(i), ex)...)
		}
	}
	switch {
	case n == 0:
		allErrs = append(allErrs, field.Required(fldPath, "must specify a peer"))
	case peer.IPBlock != nil && n > 1:
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return allErrs
}
