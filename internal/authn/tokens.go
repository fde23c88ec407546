package authn

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// TokenSource resolves a bearer token to a user.
type TokenSource interface {
	Lookup(token string) (*User, bool)
}

// StaticTokens maps bearer tokens to users. Lookup compares against every
// entry in constant time per entry, so it suits the handful of tokens a
// cluster holds (tests, the join token), not thousands.
type StaticTokens map[string]*User

// Lookup implements TokenSource.
func (s StaticTokens) Lookup(token string) (*User, bool) {
	if token == "" {
		return nil, false
	}
	want := sha256.Sum256([]byte(token))
	var found *User
	// Visit every entry even after a match so the time taken does not
	// reveal where, or whether, the token matched.
	for candidate, u := range s {
		have := sha256.Sum256([]byte(candidate))
		if subtle.ConstantTimeCompare(want[:], have[:]) == 1 {
			found = u
		}
	}
	if found == nil {
		return nil, false
	}
	return found.clone(), true
}

// tokenEntry stores a digest rather than the token so comparisons have a
// fixed length and the secret is not kept in memory in the clear.
type tokenEntry struct {
	digest [sha256.Size]byte
	user   *User
}

type tokenFile struct {
	entries []tokenEntry
}

func (f *tokenFile) Lookup(token string) (*User, bool) {
	if token == "" {
		return nil, false
	}
	want := sha256.Sum256([]byte(token))
	var found *User
	for i := range f.entries {
		if subtle.ConstantTimeCompare(want[:], f.entries[i].digest[:]) == 1 {
			found = f.entries[i].user
		}
	}
	if found == nil {
		return nil, false
	}
	return found.clone(), true
}

// LoadTokenFile reads a static token file in the format of upstream's
// --token-auth-file: CSV records of token,user,uid[,"group1,group2"]. Extra
// columns are ignored as upstream does. Unlike upstream, which only logs
// them, malformed records, empty tokens or user names and duplicate tokens
// are errors naming the line, so a typo cannot silently lock a user out.
func LoadTokenFile(path string) (TokenSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("authn: open token file: %w", err)
	}
	defer f.Close()
	src, err := parseTokenFile(f)
	if err != nil {
		return nil, fmt.Errorf("authn: token file %s: %w", path, err)
	}
	return src, nil
}

func parseTokenFile(r io.Reader) (*tokenFile, error) {
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = -1
	reader.TrimLeadingSpace = true
	seen := map[[sha256.Size]byte]int{}
	out := &tokenFile{}
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			// csv.ParseError already names the line and column.
			return nil, err
		}
		line, _ := reader.FieldPos(0)
		entry, err := parseTokenRecord(record)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if first, dup := seen[entry.digest]; dup {
			return nil, fmt.Errorf("line %d: duplicate token (first defined on line %d)", line, first)
		}
		seen[entry.digest] = line
		out.entries = append(out.entries, entry)
	}
}

func parseTokenRecord(record []string) (tokenEntry, error) {
	if len(record) < 3 {
		return tokenEntry{}, fmt.Errorf("want at least 3 fields (token,user,uid), got %d", len(record))
	}
	token, name, uid := strings.TrimSpace(record[0]), strings.TrimSpace(record[1]), strings.TrimSpace(record[2])
	if token == "" {
		return tokenEntry{}, errors.New("empty token")
	}
	if name == "" {
		return tokenEntry{}, errors.New("empty user name")
	}
	u := &User{Name: name, UID: uid}
	if len(record) >= 4 {
		u.Groups = splitGroups(record[3])
	}
	return tokenEntry{digest: sha256.Sum256([]byte(token)), user: u}, nil
}

func splitGroups(field string) []string {
	var groups []string
	for g := range strings.SplitSeq(field, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	return groups
}
