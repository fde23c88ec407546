package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
)

// ErrFull is returned when every node range of the cluster CIDR is taken.
var ErrFull = errors.New("nodeipam: no pod CIDR left in the cluster CIDR")

// cidrSet hands out the subnets of one size inside a cluster range. It is a
// bitmap over the subnets, searched from just after the last allocation so
// that a released range is not handed out again at once.
type cidrSet struct {
	cluster  *net.IPNet
	subBits  int // prefix length of a node's range
	count    int
	used     []bool
	next     int
	numInUse int
}

func newCIDRSet(cluster *net.IPNet, maskSize int) (*cidrSet, error) {
	ones, total := cluster.Mask.Size()
	if maskSize < ones || maskSize > total {
		return nil, fmt.Errorf("nodeipam: node mask /%d does not fit in cluster CIDR %s", maskSize, cluster)
	}
	// A bitmap of more than 2^20 subnets would be large and no cluster
	// has that many nodes.
	if maskSize-ones > 20 {
		return nil, fmt.Errorf("nodeipam: node mask /%d makes too many subnets of %s", maskSize, cluster)
	}
	count := 1 << (maskSize - ones)
	return &cidrSet{
		cluster: &net.IPNet{IP: cluster.IP.Mask(cluster.Mask), Mask: cluster.Mask},
		subBits: maskSize,
		count:   count,
		used:    make([]bool, count),
	}, nil
}

// allocate takes the next free subnet.
func (s *cidrSet) allocate() (*net.IPNet, error) {
	for i := range s.count {
		idx := (s.next + i) % s.count
		if !s.used[idx] {
			s.used[idx] = true
			s.numInUse++
			s.next = (idx + 1) % s.count
			return s.subnet(idx), nil
		}
	}
	return nil, ErrFull
}

// occupy marks cidr as taken; false when it is not one of the set's
// subnets (another size, or outside the cluster range).
func (s *cidrSet) occupy(cidr *net.IPNet) bool {
	idx, ok := s.index(cidr)
	if !ok {
		return false
	}
	if !s.used[idx] {
		s.used[idx] = true
		s.numInUse++
	}
	return true
}

// release frees cidr; releasing a range not taken is harmless.
func (s *cidrSet) release(cidr *net.IPNet) {
	idx, ok := s.index(cidr)
	if !ok || !s.used[idx] {
		return
	}
	s.used[idx] = false
	s.numInUse--
}

// undo takes back the last allocation, which was not used after all: the
// next allocation hands out the same range again, keeping the ranges in
// the order nodes got them.
func (s *cidrSet) undo(cidr *net.IPNet) {
	idx, ok := s.index(cidr)
	if !ok || !s.used[idx] {
		return
	}
	s.release(cidr)
	s.next = idx
}

func (s *cidrSet) index(cidr *net.IPNet) (int, bool) {
	ones, _ := cidr.Mask.Size()
	if ones != s.subBits || !s.cluster.Contains(cidr.IP) {
		return 0, false
	}
	ip := toInt(cidr.IP.Mask(cidr.Mask))
	base := toInt(s.cluster.IP)
	_, total := s.cluster.Mask.Size()
	off := new(big.Int).Sub(ip, base)
	off.Rsh(off, uint(total-s.subBits))
	return int(off.Int64()), true
}

func (s *cidrSet) subnet(idx int) *net.IPNet {
	_, total := s.cluster.Mask.Size()
	off := new(big.Int).Lsh(big.NewInt(int64(idx)), uint(total-s.subBits))
	ip := new(big.Int).Add(toInt(s.cluster.IP), off).Bytes()
	size := total / 8
	buf := make(net.IP, size)
	copy(buf[size-len(ip):], ip)
	return &net.IPNet{IP: buf, Mask: net.CIDRMask(s.subBits, total)}
}

func toInt(ip net.IP) *big.Int {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return new(big.Int).SetBytes(ip)
}
