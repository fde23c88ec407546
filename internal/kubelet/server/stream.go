package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamOptions are the streams an exec or attach request wants.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

// parseStreamOptions reads the streams from the query under either of
// their names: the API's (stdin, as kubectl sends them) or the kubelet's
// own (input, as upstream's API server rewrites them).
func parseStreamOptions(q url.Values) (streamOptions, error) {
	var opts streamOptions
	for _, p := range []struct {
		dst         *bool
		name, alias string
	}{
		{&opts.stdin, "stdin", "input"},
		{&opts.stdout, "stdout", "output"},
		{&opts.stderr, "stderr", "error"},
		{&opts.tty, "tty", ""},
	} {
		for _, name := range []string{p.name, p.alias} {
			if name == "" || q.Get(name) == "" {
				continue
			}
			v, err := boolParam(q, name)
			if err != nil {
				return opts, err
			}
			*p.dst = *p.dst || v
		}
	}
	// A terminal carries what the program writes to stderr on stdout.
	if opts.tty {
		opts.stderr = false
	}
	if !opts.stdin && !opts.stdout && !opts.stderr {
		return opts, badRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return opts, nil
}

func podFromPath(r *http.Request) podRef {
	return podRef{namespace: r.PathValue("namespace"), name: r.PathValue("pod"), uid: r.PathValue("uid")}
}

// serveExec answers /exec/{namespace}/{pod}[/{uid}]/{container}.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	s.serveStream(w, r, func() (string, error) {
		q := r.URL.Query()
		opts, err := parseStreamOptions(q)
		if err != nil {
			return "", err
		}
		cmd := q["command"]
		if len(cmd) == 0 {
			return "", badRequest("you must specify a command")
		}
		c, err := s.runningContainer(r.Context(), podFromPath(r), r.PathValue("container"))
		if err != nil {
			return "", err
		}
		resp, err := s.rt.Exec(r.Context(), &runtimeapi.ExecRequest{
			ContainerId: c.GetId(),
			Cmd:         cmd,
			Tty:         opts.tty,
			Stdin:       opts.stdin,
			Stdout:      opts.stdout,
			Stderr:      opts.stderr,
		})
		if err != nil {
			return "", fmt.Errorf("exec in container %s: %w", c.GetId(), err)
		}
		return resp.GetUrl(), nil
	})
}

// serveAttach answers /attach/{namespace}/{pod}[/{uid}]/{container}.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	s.serveStream(w, r, func() (string, error) {
		opts, err := parseStreamOptions(r.URL.Query())
		if err != nil {
			return "", err
		}
		c, err := s.runningContainer(r.Context(), podFromPath(r), r.PathValue("container"))
		if err != nil {
			return "", err
		}
		resp, err := s.rt.Attach(r.Context(), &runtimeapi.AttachRequest{
			ContainerId: c.GetId(),
			Tty:         opts.tty,
			Stdin:       opts.stdin,
			Stdout:      opts.stdout,
			Stderr:      opts.stderr,
		})
		if err != nil {
			return "", fmt.Errorf("attach to container %s: %w", c.GetId(), err)
		}
		return resp.GetUrl(), nil
	})
}

// servePortForward answers /portForward/{namespace}/{pod}[/{uid}]. Ports
// are optional here: with SPDY the client names them per stream.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	s.serveStream(w, r, func() (string, error) {
		var ports []int32
		for _, v := range r.URL.Query()["port"] {
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil || p == 0 {
				return "", badRequest("port: invalid value %q: must be between 1 and 65535", v)
			}
			ports = append(ports, int32(p))
		}
		pod := podFromPath(r)
		sb, err := s.findSandbox(r.Context(), pod)
		if err != nil {
			return "", err
		}
		if sb.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
			return "", badRequest("pod %q is not running", pod.name)
		}
		resp, err := s.rt.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sb.GetId(), Port: ports})
		if err != nil {
			return "", fmt.Errorf("port-forward to sandbox %s: %w", sb.GetId(), err)
		}
		return resp.GetUrl(), nil
	})
}

// serveStream checks that r asks for an upgrade, gets the runtime's
// streaming URL from open and relays the upgraded connection to it.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, open func() (string, error)) {
	// Checked first: the runtime's streaming session should not be
	// opened for a request that cannot use it.
	if !isUpgrade(r.Header) {
		s.writeError(w, r, badRequest("Upgrade request required"))
		return
	}
	target, err := open()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.proxyUpgrade(w, r, target); err != nil {
		s.writeError(w, r, err)
	}
}
