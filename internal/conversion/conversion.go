// Package conversion converts objects between the versions of a resource
// that Skiff serves from one storage version: autoscaling/v1 HPAs stored as
// autoscaling/v2, and events.k8s.io/v1 Events stored as core/v1 Events.
package conversion

// Upstream keeps the parts of a v2 HPA that v1 cannot express in these
// annotations of the v1 object, so that a v1 client's round trip loses
// nothing.
const (
	annotationMetrics        = "autoscaling.alpha.kubernetes.io/metrics"
	annotationCurrentMetrics = "autoscaling.alpha.kubernetes.io/current-metrics"
	annotationConditions     = "autoscaling.alpha.kubernetes.io/conditions"
	annotationBehavior       = "autoscaling.alpha.kubernetes.io/behavior"
)
