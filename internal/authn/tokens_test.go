package authn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeTokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadTokenFile(t *testing.T) {
	path := writeTokenFile(t, strings.Join([]string{
		`t-alice,alice,uid-1,"dev,ops"`,
		``,
		`t-bob, bob, uid-2`,
		`t-carol,carol,uid-3,"  qa , ,",ignored-extra`,
		`t-dave,dave,,""`,
	}, "\n"))
	src, err := LoadTokenFile(path)
	if err != nil {
		t.Fatalf("LoadTokenFile: %v", err)
	}
	tests := []struct {
		token  string
		want   *User
		wantOK bool
	}{
		{token: "t-alice", want: &User{Name: "alice", UID: "uid-1", Groups: []string{"dev", "ops"}}, wantOK: true},
		{token: "t-bob", want: &User{Name: "bob", UID: "uid-2"}, wantOK: true},
		{token: "t-carol", want: &User{Name: "carol", UID: "uid-3", Groups: []string{"qa"}}, wantOK: true},
		{token: "t-dave", want: &User{Name: "dave"}, wantOK: true},
		{token: "t-ali"},
		{token: "t-alice "},
		{token: ""},
		{token: "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			got, ok := src.Lookup(tc.token)
			if ok != tc.wantOK {
				t.Fatalf("Lookup ok = %v, want %v", ok, tc.wantOK)
			}
			if ok && !sameUser(got, tc.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoadTokenFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // substrings the error must contain
	}{
		{
			name:    "too few fields",
			content: "sekrit1,alice,uid\nsekrit2,bob\n",
			want:    []string{"line 2", "at least 3 fields"},
		},
		{
			name:    "empty token",
			content: "sekrit1,alice,uid\n\n,bob,uid\n",
			want:    []string{"line 3", "empty token"},
		},
		{
			name:    "empty user",
			content: "sekrit1, ,uid\n",
			want:    []string{"line 1", "empty user"},
		},
		{
			name:    "duplicate token",
			content: "sekrit1,alice,uid\nsekrit2,bob,uid\nsekrit1,carol,uid\n",
			want:    []string{"line 3", "duplicate token", "line 1"},
		},
		{
			name:    "bad quoting",
			content: "sekrit1,alice,uid\nsekrit2,bob,uid,\"dev\n",
			want:    []string{"line 2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTokenFile(t, tc.content)
			_, err := LoadTokenFile(path)
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error %q leaks a token", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Fatal("expected an error")
		}
	})
}

func TestStaticTokens(t *testing.T) {
	alice := &User{Name: "alice", Groups: []string{"dev"}}
	src := StaticTokens{"secret": alice, "other": {Name: "bob"}}
	tests := []struct {
		token    string
		wantName string
	}{
		{token: "secret", wantName: "alice"},
		{token: "other", wantName: "bob"},
		{token: "secre"},
		{token: ""},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			got, ok := src.Lookup(tc.token)
			if ok != (tc.wantName != "") {
				t.Fatalf("ok = %v", ok)
			}
			if ok && got.Name != tc.wantName {
				t.Errorf("name = %q, want %q", got.Name, tc.wantName)
			}
		})
	}
	got, _ := src.Lookup("secret")
	got.Groups[0] = "mutated"
	if alice.Groups[0] != "dev" {
		t.Error("Lookup returned shared state; callers could mutate the source")
	}
}

func sameUser(a, b *User) bool {
	return a.Name == b.Name && a.UID == b.UID && slices.Equal(a.Groups, b.Groups)
}
