package join

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/internal/authn"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Paths the handler serves, beside the Kubernetes API on the server's port
// and outside its paths.
const (
	PathPrefix  = "/skiff/"
	CACertsPath = "/skiff/cacerts"
	JoinPath    = "/skiff/v1/join"
)

// KubeletClientName is the common name of the API server's client
// certificate towards kubelets; joined nodes accept no other caller.
const KubeletClientName = "skiff-apiserver-kubelet-client"

const (
	certValidity = 365 * 24 * time.Hour

	// maxRequestBytes bounds what an unauthenticated caller can make the
	// server read; a real request is well under a kilobyte.
	maxRequestBytes = 64 << 10
	// maxAddresses bounds the addresses one certificate may carry.
	maxAddresses = 16
)

// Signer issues the certificates handed to joining nodes.
// *pki.Material implements it.
type Signer interface {
	CAPEM() []byte
	IssueClientCert(cn string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error)
	IssueServingCert(cn string, ips []net.IP, dnsNames []string, validity time.Duration) (certPEM, keyPEM []byte, err error)
}

// HandlerConfig tunes the join handler.
type HandlerConfig struct {
	// ReservedIPs and ReservedDNSNames are addresses no node may claim,
	// normally every name in the API server's serving certificate. Nodes'
	// serving certificates come from the same CA that clients trust for the
	// API server, so a node certified for the API server's address could
	// impersonate it. Loopback, unspecified and multicast addresses and the
	// names localhost and kubernetes[.default[.*]] are always refused.
	ReservedIPs      []net.IP
	ReservedDNSNames []string
}

// Request is what a joining node asks for.
type Request struct {
	// NodeName is the node's name, a DNS-1123 subdomain.
	NodeName string
	// Addresses are the node's IP addresses, at which the API server will
	// reach its kubelet. At least one is required.
	Addresses []net.IP
}

// requestJSON is Request on the wire; addresses stay strings so that a bad
// one can be named in the answer.
type requestJSON struct {
	NodeName  string   `json:"nodeName"`
	Addresses []string `json:"addresses"`
}

type handler struct {
	log    *slog.Logger
	signer Signer
	caPEM  []byte
	secret []byte

	reservedIPs   []net.IP
	reservedNames []string
}

// NewHandler returns the handler for CACertsPath and JoinPath. The CA is
// served to anyone, since a joining node trusts it only when its hash
// matches the token; certificates are issued only to callers presenting the
// token's secret as a bearer token. token must be made for signer's CA.
// The handler must be mounted before any authentication, which would
// refuse the join secret as an unknown bearer token.
func NewHandler(log *slog.Logger, signer Signer, token Token, cfg HandlerConfig) (http.Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if signer == nil {
		return nil, errors.New("join: new handler: signer is nil")
	}
	if token.isZero() {
		return nil, fmt.Errorf("join: new handler: %w: token is empty", ErrInvalidToken)
	}
	caPEM := signer.CAPEM()
	ca, err := parseCA(caPEM)
	if err != nil {
		return nil, fmt.Errorf("join: new handler: %w", err)
	}
	if !token.matchesCA(ca.Raw) {
		return nil, fmt.Errorf("join: new handler: %w", ErrTokenForOtherCA)
	}
	h := &handler{
		log:         log,
		signer:      signer,
		caPEM:       caPEM,
		secret:      []byte(token.secret),
		reservedIPs: slices.Clone(cfg.ReservedIPs),
	}
	for _, n := range cfg.ReservedDNSNames {
		h.reservedNames = append(h.reservedNames, normalizeName(n))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CACertsPath, h.serveCA)
	mux.HandleFunc("POST "+JoinPath, h.serveJoin)
	return mux, nil
}

func (h *handler) serveCA(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(h.caPEM)
}

func (h *handler) serveJoin(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.log.Warn("join refused: missing or wrong token", "remote", r.RemoteAddr)
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		return
	}
	var req requestJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "invalid request body: "+err.Error())
		return
	}
	ips, err := h.checkRequest(req)
	if err != nil {
		h.log.Warn("join refused: bad request", "remote", r.RemoteAddr, "node", req.NodeName, "err", err)
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	creds, err := h.issue(req.NodeName, ips)
	if err != nil {
		h.log.Error("join failed", "node", req.NodeName, "err", err)
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "cannot issue certificates")
		return
	}
	h.log.Info("issued credentials to node", "node", req.NodeName, "addresses", ips, "remote", r.RemoteAddr)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	// The body holds private keys.
	hdr.Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(creds.toJSON()); err != nil {
		h.log.Warn("join: sending credentials failed", "node", req.NodeName, "err", err)
	}
}

func (h *handler) authorized(r *http.Request) bool {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(secret)), h.secret) == 1
}

// checkRequest validates the request and returns its addresses, parsed and
// without duplicates.
func (h *handler) checkRequest(req requestJSON) ([]net.IP, error) {
	if msgs := validation.IsDNS1123Subdomain(req.NodeName); len(msgs) > 0 {
		return nil, fmt.Errorf("nodeName %q: %s", req.NodeName, strings.Join(msgs, "; "))
	}
	if h.reservedName(req.NodeName) {
		return nil, fmt.Errorf("nodeName %q is reserved for the API server", req.NodeName)
	}
	if len(req.Addresses) == 0 {
		return nil, errors.New("addresses: at least one node address is required")
	}
	if len(req.Addresses) > maxAddresses {
		return nil, fmt.Errorf("addresses: at most %d are allowed, got %d", maxAddresses, len(req.Addresses))
	}
	var ips []net.IP
	for _, a := range req.Addresses {
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("addresses: %q is not an IP address", a)
		}
		if ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() || slices.ContainsFunc(h.reservedIPs, ip.Equal) {
			return nil, fmt.Errorf("addresses: %s cannot be a node address", ip)
		}
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	return ips, nil
}

func (h *handler) reservedName(name string) bool {
	name = normalizeName(name)
	switch {
	case name == "localhost", name == "kubernetes", name == "kubernetes.default",
		strings.HasPrefix(name, "kubernetes.default."):
		return true
	}
	return slices.Contains(h.reservedNames, name)
}

func normalizeName(n string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
}

func (h *handler) issue(nodeName string, ips []net.IP) (*Credentials, error) {
	user := authn.NodeUserPrefix + nodeName
	clientCert, clientKey, err := h.signer.IssueClientCert(user, []string{authn.GroupNodes}, certValidity)
	if err != nil {
		return nil, err
	}
	servingCert, servingKey, err := h.signer.IssueServingCert(user, ips, []string{nodeName}, certValidity)
	if err != nil {
		return nil, err
	}
	return &Credentials{
		NodeName:          nodeName,
		CA:                h.caPEM,
		ClientCert:        clientCert,
		ClientKey:         clientKey,
		ServingCert:       servingCert,
		ServingKey:        servingKey,
		KubeletClientName: KubeletClientName,
	}, nil
}

// writeStatus answers with the metav1.Status body client-go and kubectl
// understand.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	body, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Reason:   reason,
		Code:     int32(code),
	})
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
