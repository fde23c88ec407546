package join

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-sh/skiff/internal/fsutil"
)

// TokenFile is the name of the file EnsureToken keeps the token in.
const TokenFile = "join-token"

const (
	tokenPrefix = "skiff1"
	secretBytes = 32
)

var (
	// ErrInvalidToken is returned for a token that does not parse.
	ErrInvalidToken = errors.New("join: invalid token")
	// ErrTokenForOtherCA is returned when a stored or configured token
	// names a CA other than the cluster's.
	ErrTokenForOtherCA = errors.New("join: token was made for another CA")
)

// Token is what a node needs to join: the hash of the cluster CA, which
// lets it recognise the right server, and the secret the server wants in
// return. The zero Token is invalid.
type Token struct {
	caHash [sha256.Size]byte
	secret string
}

// NewToken returns a token with a fresh random secret for the CA whose DER
// encoding is caDER.
func NewToken(caDER []byte) (Token, error) {
	if len(caDER) == 0 {
		return Token{}, errors.New("join: new token: CA certificate is empty")
	}
	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return Token{}, fmt.Errorf("join: new token: %w", err)
	}
	return Token{caHash: sha256.Sum256(caDER), secret: base64.RawURLEncoding.EncodeToString(buf)}, nil
}

// ParseToken parses the form String produces. Surrounding white space is
// ignored, since tokens are pasted from files and terminals.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return Token{}, fmt.Errorf("%w: want %s.<CA hash>.<secret>, got %d dot-separated parts", ErrInvalidToken, tokenPrefix, len(parts))
	}
	if parts[0] != tokenPrefix {
		return Token{}, fmt.Errorf("%w: unknown format %q, want %q", ErrInvalidToken, parts[0], tokenPrefix)
	}
	var t Token
	if len(parts[1]) != hex.EncodedLen(sha256.Size) {
		return Token{}, fmt.Errorf("%w: CA hash must be %d hex digits, got %d", ErrInvalidToken, hex.EncodedLen(sha256.Size), len(parts[1]))
	}
	if _, err := hex.Decode(t.caHash[:], []byte(parts[1])); err != nil {
		return Token{}, fmt.Errorf("%w: CA hash: %w", ErrInvalidToken, err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Token{}, fmt.Errorf("%w: secret is not unpadded base64url: %w", ErrInvalidToken, err)
	}
	if len(secret) != secretBytes {
		return Token{}, fmt.Errorf("%w: secret must be %d bytes, got %d", ErrInvalidToken, secretBytes, len(secret))
	}
	// Re-encode so that equal secrets always compare equal as strings.
	t.secret = base64.RawURLEncoding.EncodeToString(secret)
	return t, nil
}

// String returns the token in the form ParseToken accepts, secret included.
func (t Token) String() string {
	return tokenPrefix + "." + hex.EncodeToString(t.caHash[:]) + "." + t.secret
}

// LogValue keeps the secret out of logs when a token is logged by accident.
func (t Token) LogValue() slog.Value {
	return slog.StringValue(tokenPrefix + "." + hex.EncodeToString(t.caHash[:]) + ".<redacted>")
}

func (t Token) isZero() bool { return t.secret == "" }

func (t Token) matchesCA(caDER []byte) bool {
	return sha256.Sum256(caDER) == t.caHash
}

// EnsureToken returns the token stored in dir/join-token, creating it for the
// CA whose DER encoding is caDER when absent; created reports which. A stored
// token for another CA is an error rather than replaced: nodes holding it
// would otherwise fail to join with no hint why, and a replaced CA is
// something an operator must notice.
func EnsureToken(dir string, caDER []byte) (Token, bool, error) {
	path := filepath.Join(dir, TokenFile)
	t, err := readToken(path, caDER)
	if !errors.Is(err, fs.ErrNotExist) {
		return t, false, err
	}
	if t, err = NewToken(caDER); err != nil {
		return Token{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Token{}, false, fmt.Errorf("join: create %s: %w", dir, err)
	}
	err = fsutil.CreateFile(path, []byte(t.String()+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; everyone must use that one.
		t, err = readToken(path, caDER)
		return t, false, err
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("join: %w", err)
	}
	return t, true, nil
}

func readToken(path string, caDER []byte) (Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("join: read token: %w", err)
	}
	t, err := ParseToken(string(data))
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", path, err)
	}
	if !t.matchesCA(caDER) {
		return Token{}, fmt.Errorf("%w: %s does not match the cluster CA; remove it to create a new token (nodes holding the old one can no longer join)", ErrTokenForOtherCA, path)
	}
	return t, nil
}
