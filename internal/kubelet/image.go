package kubelet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Waiting reasons of a container whose image is missing.
const (
	reasonErrImagePull       = "ErrImagePull"
	reasonImagePullBackOff   = "ImagePullBackOff"
	reasonErrImageNeverPull  = "ErrImageNeverPull"
	reasonImageInspectFailed = "ImageInspectError"
)

// pulledImage is an image present on the node.
type pulledImage struct {
	// ref is the runtime's reference (an image ID) containers are created
	// from, so that a tag moving later does not change them.
	ref string
	// uid and user are the image's USER, for runAsNonRoot.
	uid  *int64
	user string
}

// pullPolicy is the container's pull policy, or upstream's default for an
// object the API did not default: Always for :latest or no tag, else
// IfNotPresent.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	_, tag, digest := splitImage(c.Image)
	if digest == "" && (tag == "" || tag == "latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// ensureImage makes the container's image present as its pull policy says.
// On failure it records the waiting reason and returns when to retry.
func (k *Kubelet) ensureImage(ctx context.Context, st *podState, pod *corev1.Pod, c *corev1.Container, ref *corev1.ObjectReference, sb sandboxTarget, src *objectSource) (pulledImage, time.Duration, error) {
	image := c.Image
	present, err := k.imageStatus(ctx, image)
	if err != nil {
		st.waiting[c.Name] = waitingReason{reason: reasonImageInspectFailed, message: err.Error()}
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "InspectFailed", "Failed to inspect image %q: %v", image, err)
		return pulledImage{}, 0, err
	}
	policy := pullPolicy(c)
	if present != nil && policy != corev1.PullAlways {
		k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", image)
		return *present, 0, nil
	}
	if policy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
		st.waiting[c.Name] = waitingReason{reason: reasonErrImageNeverPull, message: msg}
		k.recorder.Event(ref, corev1.EventTypeWarning, reasonErrImageNeverPull, msg)
		k.recorder.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+reasonErrImageNeverPull)
		return pulledImage{}, 0, fmt.Errorf("%w: %s", errImageNeverPull, image)
	}

	now := k.clock.Now()
	if wait := st.pulls.remaining(image, st.pulls.last(image), now); wait > 0 {
		msg := fmt.Sprintf("Back-off pulling image %q: %s: %s", image, reasonErrImagePull, st.pullErrs[image])
		st.waiting[c.Name] = waitingReason{reason: reasonImagePullBackOff, message: msg}
		k.recorder.Eventf(ref, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", image)
		k.recorder.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+reasonImagePullBackOff)
		return pulledImage{}, wait, nil
	}

	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulling", "Pulling image %q", image)
	imageRef, err := k.pull(ctx, pod, image, sb.config, src)
	if err != nil {
		delay := st.pulls.next(image, now)
		st.pullErrs[image] = err.Error()
		st.waiting[c.Name] = waitingReason{reason: reasonErrImagePull, message: err.Error()}
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", image, err)
		k.recorder.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+reasonErrImagePull)
		return pulledImage{}, delay, fmt.Errorf("%w: %s: %w", errImagePull, image, err)
	}
	st.pulls.reset(image)
	delete(st.pullErrs, image)
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", image, k.clock.Since(now).Round(time.Millisecond))
	pulled, err := k.imageStatus(ctx, imageRef)
	if err != nil || pulled == nil {
		// The pull said where the image is; its USER is merely unknown.
		return pulledImage{ref: imageRef}, 0, nil
	}
	pulled.ref = imageRef
	return *pulled, 0, nil
}

// imageStatus returns the image if present, nil if not.
func (k *Kubelet) imageStatus(ctx context.Context, image string) (*pulledImage, error) {
	resp, err := k.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return nil, fmt.Errorf("image status of %q: %w", image, err)
	}
	img := resp.GetImage()
	if img == nil {
		return nil, nil
	}
	p := &pulledImage{ref: img.GetId(), user: img.GetUsername()}
	if img.GetUid() != nil {
		uid := img.GetUid().GetValue()
		p.uid = &uid
	}
	return p, nil
}

// pull pulls image with each credential of the pod's pull secrets that
// applies to its registry until one works, or anonymously if none applies.
func (k *Kubelet) pull(ctx context.Context, pod *corev1.Pod, image string, sbConfig *runtimeapi.PodSandboxConfig, src *objectSource) (string, error) {
	creds := k.pullCredentials(pod, image, src)
	if len(creds) == 0 {
		creds = []*runtimeapi.AuthConfig{nil}
	}
	var errs []error
	for _, auth := range creds {
		resp, err := k.images.PullImage(ctx, &runtimeapi.PullImageRequest{
			Image:         &runtimeapi.ImageSpec{Image: image},
			Auth:          auth,
			SandboxConfig: sbConfig,
		})
		if err == nil {
			return resp.GetImageRef(), nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// splitImage splits an image reference into name, tag and digest.
func splitImage(image string) (name, tag, digest string) {
	name = image
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}
