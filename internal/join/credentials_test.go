package join

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/pki"
)

func testCredentials(t *testing.T, m *pki.Material, node string) *Credentials {
	t.Helper()
	clientCert, clientKey, err := m.IssueClientCert("system:node:"+node, []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	servingCert, servingKey, err := m.IssueServingCert("system:node:"+node, []net.IP{nodeIP}, []string{node}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &Credentials{
		NodeName:          node,
		CA:                m.CAPEM(),
		ClientCert:        clientCert,
		ClientKey:         clientKey,
		ServingCert:       servingCert,
		ServingKey:        servingKey,
		KubeletClientName: KubeletClientName,
	}
}

func TestSaveLoad(t *testing.T) {
	m, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "agent", "join")
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load before Save: %v, want os.ErrNotExist", err)
	}

	for _, node := range []string{"node-1", "node-2"} {
		want := testCredentials(t, m, node)
		if err := want.Save(dir); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Load returned %+v, want %+v", got, want)
		}
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, CredentialsFile): 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Fatalf("%s has mode %v, want %v", path, info.Mode().Perm(), mode)
		}
	}
	assertNoTemps(t, dir)
}

func TestLoadRejectsBadCredentials(t *testing.T) {
	m, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	good := testCredentials(t, m, "node-1")
	foreign := testCredentials(t, other, "node-1")
	for _, tc := range []struct {
		name   string
		mutate func(c *Credentials)
		want   string
	}{
		{"other node", func(c *Credentials) { c.NodeName = "node-2" }, `want "system:node:node-2"`},
		{"keys swapped", func(c *Credentials) { c.ClientKey, c.ServingKey = c.ServingKey, c.ClientKey }, "client certificate"},
		{"client from another CA", func(c *Credentials) { c.ClientCert, c.ClientKey = foreign.ClientCert, foreign.ClientKey }, "client certificate"},
		{"serving from another CA", func(c *Credentials) { c.ServingCert, c.ServingKey = foreign.ServingCert, foreign.ServingKey }, "serving certificate"},
		{"serving used as client", func(c *Credentials) { c.ClientCert, c.ClientKey = c.ServingCert, c.ServingKey }, "client certificate"},
		{"no CA", func(c *Credentials) { c.CA = nil }, "CA"},
		{"no kubelet client name", func(c *Credentials) { c.KubeletClientName = "" }, "kubelet client name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *good
			tc.mutate(&c)
			dir := t.TempDir()
			if err := c.Save(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}

	t.Run("corrupt file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, CredentialsFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Load of a corrupt file: %v", err)
		}
	})
}

func TestValidateExpiry(t *testing.T) {
	m, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := testCredentials(t, m, "node-1")
	if err := c.validate(time.Now()); err != nil {
		t.Fatalf("fresh credentials: %v", err)
	}
	if err := c.validate(time.Now().Add(2 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("credentials after their validity: %v, want ErrExpired", err)
	}
}
