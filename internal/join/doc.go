// Package join lets a node join a cluster with nothing but a token, the way
// k3s does. The token names the cluster CA by its SHA-256 hash and carries a
// shared secret. A joining agent first fetches the CA without verification,
// checks it against the hash, and only then sends the secret over TLS
// verified against that CA; in exchange the server issues the node its
// client and kubelet serving certificates. A wrong or intercepting server
// therefore never learns the secret.
package join
