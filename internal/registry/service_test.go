package registry

import (
	"net"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr bool
	}{
		{in: "30000-32767", want: PortRange{Base: 30000, Size: 2768}},
		{in: "80-80", want: PortRange{Base: 80, Size: 1}},
		{in: "32767-30000", wantErr: true},
		{in: "0-10", wantErr: true},
		{in: "1-70000", wantErr: true},
		{in: "30000", wantErr: true},
		{in: "a-b", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePortRange(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParsePortRange(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err == nil && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestServiceCIDRArithmetic(t *testing.T) {
	tests := []struct {
		cidr      string
		first     string
		hosts     int64
		broadcast string
	}{
		{"10.43.0.0/16", "10.43.0.1", 65534, "10.43.255.255"},
		{"192.168.5.0/24", "192.168.5.1", 254, "192.168.5.255"},
		{"fd00::/120", "fd00::1", 254, "fd00::ff"},
	}
	for _, tc := range tests {
		t.Run(tc.cidr, func(t *testing.T) {
			_, cidr, err := net.ParseCIDR(tc.cidr)
			if err != nil {
				t.Fatal(err)
			}
			if got := FirstServiceIP(cidr).String(); got != tc.first {
				t.Errorf("first IP = %s, want %s", got, tc.first)
			}
			if got := hosts(cidr); got != tc.hosts {
				t.Errorf("hosts = %d, want %d", got, tc.hosts)
			}
			if got := nthIP(cidr, hosts(cidr)+1).String(); got != tc.broadcast {
				t.Errorf("broadcast = %s, want %s", got, tc.broadcast)
			}
		})
	}
}
