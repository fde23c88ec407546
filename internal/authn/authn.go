// Package authn establishes who is calling the API server: a client
// certificate issued by the cluster CA or a static bearer token, with
// anonymous access limited to a few health and version paths.
package authn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Well-known user and group names, as upstream Kubernetes defines them.
const (
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupMasters         = "system:masters"
	UserAnonymous        = "system:anonymous"
	// GroupNodes and NodeUserPrefix name a node's credentials:
	// system:node:<node name> in group system:nodes.
	GroupNodes     = "system:nodes"
	NodeUserPrefix = "system:node:"
)

// NodeName is the node a user's credentials are for, if they are a
// node's.
func (u *User) NodeName() (string, bool) {
	if u == nil || !slices.Contains(u.Groups, GroupNodes) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	return name, ok && name != ""
}

// User is an authenticated (or anonymous) caller.
type User struct {
	Name   string
	UID    string
	Groups []string
}

func (u *User) clone() *User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	return &c
}

// InGroup reports whether the user is a member of group.
func (u *User) InGroup(group string) bool { return slices.Contains(u.Groups, group) }

// Anonymous returns the user unauthenticated callers act as.
func Anonymous() *User {
	return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}
}

// Authenticator checks client certificates against a CA and bearer tokens
// against a TokenSource. Either may be nil to disable that method.
type Authenticator struct {
	caPool *x509.CertPool
	tokens TokenSource

	mu sync.Mutex
	// verified maps a client certificate (its DER bytes) that passed
	// verification to its expiry.
	verified map[string]time.Time
}

// New returns an Authenticator. caPool may be nil to disable certificate
// authentication and tokens may be nil to disable bearer tokens.
func New(caPool *x509.CertPool, tokens TokenSource) *Authenticator {
	return &Authenticator{caPool: caPool, tokens: tokens, verified: map[string]time.Time{}}
}

var (
	errInvalidCert  = errors.New("invalid client certificate")
	errInvalidToken = errors.New("invalid bearer token")
)

// Authenticate identifies the caller. It returns ok=false and a nil error
// when no credentials were presented, and an error when credentials were
// presented but none of them is valid. A valid certificate wins over a
// token; a bad certificate does not prevent a good token from succeeding,
// matching upstream's union of authenticators.
func (a *Authenticator) Authenticate(r *http.Request) (*User, bool, error) {
	var errs []error
	if u, ok, err := a.authenticateCert(r); ok {
		return u, true, nil
	} else if err != nil {
		errs = append(errs, err)
	}
	if u, ok, err := a.authenticateToken(r); ok {
		return u, true, nil
	} else if err != nil {
		errs = append(errs, err)
	}
	return nil, false, errors.Join(errs...)
}

// authenticateCert re-verifies the peer chain even though the TLS layer
// already did: the server's tls.Config could be changed independently of
// this package, and only client-auth certificates may identify users.
func (a *Authenticator) authenticateCert(r *http.Request) (*User, bool, error) {
	if a.caPool == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	if len(r.TLS.VerifiedChains) == 0 {
		return nil, false, fmt.Errorf("%w: not verified by the TLS layer", errInvalidCert)
	}
	leaf := r.TLS.PeerCertificates[0]
	if err := a.verify(leaf, r.TLS.PeerCertificates[1:]); err != nil {
		return nil, false, err
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, fmt.Errorf("%w: empty common name", errInvalidCert)
	}
	return &User{
		Name:   leaf.Subject.CommonName,
		Groups: withAuthenticated(leaf.Subject.Organization),
	}, true, nil
}

func (a *Authenticator) authenticateToken(r *http.Request) (*User, bool, error) {
	token, present := bearerToken(r)
	if !present {
		return nil, false, nil
	}
	if token == "" || a.tokens == nil {
		return nil, false, errInvalidToken
	}
	u, ok := a.tokens.Lookup(token)
	if !ok {
		return nil, false, errInvalidToken
	}
	u = u.clone()
	u.Groups = withAuthenticated(u.Groups)
	return u, true, nil
}

// bearerToken extracts the token from "Authorization: Bearer T". present is
// true for any Bearer header, even a malformed one, so that a client that
// meant to send a token is refused rather than treated as anonymous.
func bearerToken(r *http.Request) (token string, present bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	if strings.ContainsAny(token, " \t") {
		return "", true
	}
	return token, true
}

func withAuthenticated(groups []string) []string {
	out := make([]string, 0, len(groups)+1)
	for _, g := range groups {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if !slices.Contains(out, GroupAuthenticated) {
		out = append(out, GroupAuthenticated)
	}
	return out
}

type userKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user stored by WithUser.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}

// maxVerified bounds the cache of verified client certificates.
const maxVerified = 1024

// verify checks leaf against the cluster CA for client authentication. A
// certificate verified once is remembered until it expires: a signature
// check on every request would cost more than serving many requests.
func (a *Authenticator) verify(leaf *x509.Certificate, rest []*x509.Certificate) error {
	key := string(leaf.Raw)
	now := time.Now()
	a.mu.Lock()
	expiry, ok := a.verified[key]
	a.mu.Unlock()
	if ok && now.Before(expiry) {
		return nil
	}
	intermediates := x509.NewCertPool()
	for _, c := range rest {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.caPool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   now,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errInvalidCert, err)
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerified {
		clear(a.verified)
	}
	a.verified[key] = leaf.NotAfter
	a.mu.Unlock()
	return nil
}
