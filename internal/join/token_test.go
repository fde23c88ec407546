package join

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	ca := []byte("ca der")
	tok, err := NewToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "skiff1.") || strings.Count(s, ".") != 2 {
		t.Fatalf("String() = %q, want skiff1.<hash>.<secret>", s)
	}
	for _, in := range []string{s, "  " + s + "\n"} {
		got, err := ParseToken(in)
		if err != nil {
			t.Fatalf("ParseToken(%q): %v", in, err)
		}
		if got != tok {
			t.Fatalf("ParseToken(%q) = %v, want %v", in, got, tok)
		}
	}
	if !tok.matchesCA(ca) || tok.matchesCA([]byte("other")) {
		t.Fatal("matchesCA does not tell the token's CA from another")
	}
	other, err := NewToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	if other.secret == tok.secret {
		t.Fatal("two tokens share a secret")
	}
}

func TestParseTokenErrors(t *testing.T) {
	tok, err := NewToken([]byte("ca"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.String(), ".")
	hash, secret := parts[1], parts[2]
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "parts"},
		{"two parts", "skiff1." + hash, "parts"},
		{"four parts", tok.String() + ".x", "parts"},
		{"unknown prefix", "k10." + hash + "." + secret, "unknown format"},
		{"short hash", "skiff1." + hash[2:] + "." + secret, "hex digits"},
		{"hash not hex", "skiff1.zz" + hash[2:] + "." + secret, "CA hash"},
		{"padded secret", "skiff1." + hash + "." + secret + "=", "base64url"},
		{"standard base64 secret", "skiff1." + hash + "." + "+" + secret[1:], "base64url"},
		{"short secret", "skiff1." + hash + "." + secret[:20], "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseToken(tc.in)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseToken(%q) = %v, want ErrInvalidToken", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestTokenLogValueHidesSecret(t *testing.T) {
	tok, err := NewToken([]byte("ca"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", tok)
	if strings.Contains(buf.String(), tok.secret) {
		t.Fatalf("log line holds the secret: %s", buf.String())
	}
}

func TestEnsureToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server")
	ca := []byte("cluster CA")

	first, created, err := EnsureToken(dir, ca)
	if err != nil || !created {
		t.Fatalf("first EnsureToken: created=%v err=%v", created, err)
	}
	path := filepath.Join(dir, TokenFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", info.Mode().Perm())
	}

	again, created, err := EnsureToken(dir, ca)
	if err != nil || created || again != first {
		t.Fatalf("second EnsureToken = %v, created=%v, err=%v; want the stored token", again, created, err)
	}

	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureToken(dir, []byte("a new CA")); !errors.Is(err, ErrTokenForOtherCA) {
		t.Fatalf("EnsureToken with another CA: %v, want ErrTokenForOtherCA", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a token for another CA was replaced")
	}

	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureToken(dir, ca); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("EnsureToken over a corrupt file: %v, want ErrInvalidToken", err)
	}
	assertNoTemps(t, dir)
}

func TestEnsureTokenConcurrent(t *testing.T) {
	dir := t.TempDir()
	ca := []byte("cluster CA")
	const n = 8
	var (
		wg      sync.WaitGroup
		tokens  [n]Token
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { tokens[i], created[i], errs[i] = EnsureToken(dir, ca) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureToken #%d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("EnsureToken #%d returned a different token", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers report creating the token, want 1", creators)
	}
	assertNoTemps(t, dir)
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	temps, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(temps) > 0 {
		t.Fatalf("temporary files left behind: %v", temps)
	}
}
