package authn

import (
	"net/http"
	"slices"
	"strings"
)

// unauthorizedBody is the metav1.Status kubectl and client-go expect with a
// 401; they turn it into "error: You must be logged in to the server".
const unauthorizedBody = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}` + "\n"

// Middleware authenticates every request and stores the user in its context
// (see UserFrom). Requests without valid credentials get a 401 Status, except
// GET and HEAD on anonymousPaths, which proceed as the anonymous user. A path
// ending in "/*" matches everything below its prefix (e.g. "/readyz/*").
// Presenting bad credentials is refused even on anonymous paths, as upstream
// does, so a misconfigured client learns about it at once.
func Middleware(next http.Handler, a *Authenticator, anonymousPaths ...string) http.Handler {
	anonymous := slices.Clone(anonymousPaths)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := a.Authenticate(r)
		switch {
		case ok:
			// The token has done its job; keep it from leaking into
			// anything that proxies or logs the request.
			r.Header.Del("Authorization")
		case err == nil && allowsAnonymous(r, anonymous):
			u = Anonymous()
		default:
			writeUnauthorized(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
	})
}

func allowsAnonymous(r *http.Request, paths []string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return slices.ContainsFunc(paths, func(p string) bool { return pathMatches(p, r.URL.Path) })
}

func pathMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

func writeUnauthorized(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(unauthorizedBody))
}
