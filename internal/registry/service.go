package registry

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	clusterIPClaims = "/skiff/claims/clusterip/"
	nodePortClaims  = "/skiff/claims/nodeport/"
)

// PortRange is an inclusive range of ports.
type PortRange struct{ Base, Size int }

// ParsePortRange parses "30000-32767".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		return PortRange{}, fmt.Errorf("invalid port range %q: want LOW-HIGH within 1-65535", s)
	}
	return PortRange{Base: a, Size: b - a + 1}, nil
}

func (r PortRange) String() string      { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1) }
func (r PortRange) contains(p int) bool { return p >= r.Base && p < r.Base+r.Size }

// claimStore is what allocation needs of storage.
type claimStore interface {
	Claimed(ctx context.Context, claim string) (bool, error)
	Claims(ctx context.Context, prefix string) ([]string, error)
}

// serviceAllocator gives Services their cluster IPs and node ports.
type serviceAllocator struct {
	claims    claimStore
	cidr      *net.IPNet
	nodePorts PortRange
}

// FirstServiceIP is the address of the kubernetes Service: the first host of
// the service CIDR.
func FirstServiceIP(cidr *net.IPNet) net.IP { return nthIP(cidr, 1) }

func nthIP(cidr *net.IPNet, n int64) net.IP {
	base := new(big.Int).SetBytes(cidr.IP.To16())
	ip := new(big.Int).Add(base, big.NewInt(n)).Bytes()
	out := make(net.IP, 16)
	copy(out[16-len(ip):], ip)
	if cidr.IP.To4() != nil {
		return out.To4()
	}
	return out
}

// hosts is the number of assignable addresses: all but network and broadcast.
func hosts(cidr *net.IPNet) int64 {
	ones, bits := cidr.Mask.Size()
	if bits-ones >= 62 {
		return 1 << 62
	}
	return (int64(1) << (bits - ones)) - 2
}

func (a *serviceAllocator) allocate(ctx context.Context, obj, old runtime.Object) ([]string, []string, error) {
	svc := obj.(*corev1.Service)
	var prev *corev1.Service
	if old != nil {
		prev = old.(*corev1.Service)
	}
	var claims []string
	var errs field.ErrorList

	if c, err := a.allocateClusterIP(ctx, svc, prev, &errs); err != nil {
		return nil, nil, err
	} else if c != "" {
		claims = append(claims, c)
	}
	cs, err := a.allocateNodePorts(ctx, svc, prev, &errs)
	if err != nil {
		return nil, nil, err
	}
	claims = append(claims, cs...)
	if len(errs) > 0 {
		return nil, nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
	}
	var releases []string
	if prev != nil {
		keep := map[string]bool{}
		for _, c := range a.held(svc) {
			keep[c] = true
		}
		for _, c := range a.held(prev) {
			if !keep[c] {
				releases = append(releases, c)
			}
		}
	}
	return claims, releases, nil
}

// allocateClusterIP returns the claim for a newly taken cluster IP, if any.
func (a *serviceAllocator) allocateClusterIP(ctx context.Context, svc, prev *corev1.Service, errs *field.ErrorList) (string, error) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		return "", nil
	}
	if svc.Spec.ClusterIP == "" && prev != nil && prev.Spec.ClusterIP != "" && prev.Spec.Type != corev1.ServiceTypeExternalName {
		// An update that leaves the allocated address out keeps it, as upstream.
		svc.Spec.ClusterIP = prev.Spec.ClusterIP
	}
	defer func() {
		if svc.Spec.ClusterIP != "" {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}()
	ip := svc.Spec.ClusterIP
	if ip == corev1.ClusterIPNone {
		return "", nil
	}
	if prev != nil && ip == prev.Spec.ClusterIP {
		return "", nil // already held
	}
	path := field.NewPath("spec", "clusterIPs").Index(0)
	if ip != "" {
		parsed := net.ParseIP(ip)
		if parsed == nil || !a.cidr.Contains(parsed) || parsed.Equal(a.cidr.IP) || parsed.Equal(nthIP(a.cidr, hosts(a.cidr)+1)) {
			*errs = append(*errs, field.Invalid(path, ip, fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cidr)))
			return "", nil
		}
		claim := clusterIPClaims + parsed.String()
		taken, err := a.claims.Claimed(ctx, claim)
		if err != nil {
			return "", apierrors.NewInternalError(err)
		}
		if taken {
			*errs = append(*errs, field.Invalid(path, ip, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
			return "", nil
		}
		return claim, nil
	}
	n := hosts(a.cidr)
	// As upstream (KEP-3070), random picks come from above a low band kept
	// for addresses chosen by hand, such as the DNS service's tenth one.
	lo := int64(2)
	if band := min(max(16, n/16), 256); n-band > 16 {
		lo = band + 1
	}
	for range 16 {
		cand := nthIP(a.cidr, lo+rand.Int64N(max(n-lo+1, 1))).String()
		taken, err := a.claims.Claimed(ctx, clusterIPClaims+cand)
		if err != nil {
			return "", apierrors.NewInternalError(err)
		}
		if !taken {
			svc.Spec.ClusterIP = cand
			return clusterIPClaims + cand, nil
		}
	}
	held, err := a.claims.Claims(ctx, clusterIPClaims)
	if err != nil {
		return "", apierrors.NewInternalError(err)
	}
	used := map[string]bool{}
	for _, c := range held {
		used[c] = true
	}
	for i := int64(2); i <= n && i < 1<<20; i++ {
		cand := nthIP(a.cidr, i).String()
		if !used[clusterIPClaims+cand] {
			svc.Spec.ClusterIP = cand
			return clusterIPClaims + cand, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
			(svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
}

func (a *serviceAllocator) allocateNodePorts(ctx context.Context, svc, prev *corev1.Service, errs *field.ErrorList) ([]string, error) {
	if !needsNodePorts(svc) {
		if svc.Spec.Type == corev1.ServiceTypeClusterIP || svc.Spec.Type == corev1.ServiceTypeExternalName {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
		return nil, nil
	}
	held := map[int32]bool{}
	if prev != nil && needsNodePorts(prev) {
		for _, p := range prev.Spec.Ports {
			held[p.NodePort] = true
		}
		// An update that leaves a port's nodePort out keeps the old one.
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, q := range prev.Spec.Ports {
				if q.Port == p.Port && q.Protocol == p.Protocol {
					p.NodePort = q.NodePort
				}
			}
		}
	}
	var claims []string
	taken := map[int32]bool{}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if p.NodePort != 0 {
			if taken[p.NodePort] || held[p.NodePort] {
				continue
			}
			if !a.nodePorts.contains(int(p.NodePort)) {
				*errs = append(*errs, field.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", a.nodePorts)))
				continue
			}
			used, err := a.claims.Claimed(ctx, nodePortClaim(p.NodePort))
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if used {
				*errs = append(*errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
				continue
			}
			taken[p.NodePort] = true
			claims = append(claims, nodePortClaim(p.NodePort))
			continue
		}
		port, err := a.freeNodePort(ctx, taken)
		if err != nil {
			return nil, err
		}
		p.NodePort = port
		taken[port] = true
		claims = append(claims, nodePortClaim(port))
	}
	return claims, nil
}

func (a *serviceAllocator) freeNodePort(ctx context.Context, taken map[int32]bool) (int32, error) {
	for range 16 {
		cand := int32(a.nodePorts.Base + rand.IntN(a.nodePorts.Size))
		if taken[cand] {
			continue
		}
		used, err := a.claims.Claimed(ctx, nodePortClaim(cand))
		if err != nil {
			return 0, apierrors.NewInternalError(err)
		}
		if !used {
			return cand, nil
		}
	}
	held, err := a.claims.Claims(ctx, nodePortClaims)
	if err != nil {
		return 0, apierrors.NewInternalError(err)
	}
	used := map[string]bool{}
	for _, c := range held {
		used[c] = true
	}
	for p := a.nodePorts.Base; p < a.nodePorts.Base+a.nodePorts.Size; p++ {
		if !used[nodePortClaim(int32(p))] && !taken[int32(p)] {
			return int32(p), nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

func nodePortClaim(p int32) string { return nodePortClaims + strconv.Itoa(int(p)) }

func (a *serviceAllocator) held(obj runtime.Object) []string {
	svc := obj.(*corev1.Service)
	var out []string
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if parsed := net.ParseIP(ip); parsed != nil {
			out = append(out, clusterIPClaims+parsed.String())
		}
	}
	if needsNodePorts(svc) {
		seen := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && !seen[p.NodePort] {
				seen[p.NodePort] = true
				out = append(out, nodePortClaim(p.NodePort))
			}
		}
	}
	return out
}
