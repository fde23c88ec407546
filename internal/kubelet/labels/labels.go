// Package labels names the labels the kubelet puts on sandboxes and
// containers. They are upstream's, so tools such as crictl show Skiff's pods
// as usual, and they are the only way from a pod to its runtime objects for
// the kubelet, its HTTPS server and their tests alike.
package labels

const (
	PodName       = "io.kubernetes.pod.name"
	PodNamespace  = "io.kubernetes.pod.namespace"
	PodUID        = "io.kubernetes.pod.uid"
	ContainerName = "io.kubernetes.container.name"
)
