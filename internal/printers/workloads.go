package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func deploymentColumns() []metav1.TableColumnDefinition {
	status := appsv1.DeploymentStatus{}.SwaggerDoc()
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", "string", "Number of the pod with ready state"),
		col("Up-to-date", "string", status["updatedReplicas"]),
		col("Available", "string", status["availableReplicas"]),
		ageColumn(),
	}, templateColumns(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])...)
}

func (p *Printer) deploymentRow(d *appsv1.Deployment) []interface{} {
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	// Deployments print an empty selector as "" rather than "<none>".
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	return []interface{}{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, int32Or(d.Spec.Replicas, 1)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		p.since(d.CreationTimestamp),
		names,
		images,
		selector,
	}
}

func replicaSetColumns() []metav1.TableColumnDefinition {
	spec := appsv1.ReplicaSetSpec{}.SwaggerDoc()
	status := appsv1.ReplicaSetStatus{}.SwaggerDoc()
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", "integer", spec["replicas"]),
		col("Current", "integer", status["replicas"]),
		col("Ready", "integer", status["readyReplicas"]),
		ageColumn(),
	}, templateColumns(spec["selector"])...)
}

func (p *Printer) replicaSetRow(rs *appsv1.ReplicaSet) []interface{} {
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []interface{}{
		rs.Name,
		int64(int32Or(rs.Spec.Replicas, 1)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		p.since(rs.CreationTimestamp),
		names,
		images,
		metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

func statefulSetColumns() []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", "string", "Number of the pod with ready state"),
		ageColumn(),
	}, templateColumns("")...)
}

func (p *Printer) statefulSetRow(ss *appsv1.StatefulSet) []interface{} {
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []interface{}{
		ss.Name,
		fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, int32Or(ss.Spec.Replicas, 1)),
		p.since(ss.CreationTimestamp),
		names,
		images,
	}
}

func daemonSetColumns() []metav1.TableColumnDefinition {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", "integer", status["desiredNumberScheduled"]),
		col("Current", "integer", status["currentNumberScheduled"]),
		col("Ready", "integer", status["numberReady"]),
		col("Up-to-date", "integer", status["updatedNumberScheduled"]),
		col("Available", "integer", status["numberAvailable"]),
		col("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn(),
	}, templateColumns(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])...)
}

func (p *Printer) daemonSetRow(ds *appsv1.DaemonSet) []interface{} {
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []interface{}{
		ds.Name,
		int64(st.DesiredNumberScheduled),
		int64(st.CurrentNumberScheduled),
		int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled),
		int64(st.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		p.since(ds.CreationTimestamp),
		names,
		images,
		metav1.FormatLabelSelector(ds.Spec.Selector),
	}
}

func controllerRevisionColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Controller", "string", "Controller of the object"),
		col("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn(),
	}
}

// controllerRevisionRow prints the owning controller as
// "<kind>.<group>/<name>" in lower case, e.g. statefulset.apps/web.
func (p *Printer) controllerRevisionRow(cr *appsv1.ControllerRevision) []interface{} {
	controller := none
	if ref := metav1.GetControllerOf(cr); ref != nil {
		controller = ref.Name
		if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
			if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
				controller = strings.ToLower(gk.String()) + "/" + ref.Name
			}
		}
	}
	return []interface{}{cr.Name, controller, cr.Revision, p.since(cr.CreationTimestamp)}
}

func jobColumns() []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", "string", "Status of the job."),
		col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		col("Duration", "string", "Time required to complete the job."),
		ageColumn(),
	}, templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"])...)
}

func (p *Printer) jobRow(job *batchv1.Job) []interface{} {
	names, images := containerCells(job.Spec.Template.Spec.Containers)
	return []interface{}{
		job.Name,
		jobStatus(job),
		jobCompletions(job),
		p.jobDuration(job),
		p.since(job.CreationTimestamp),
		names,
		images,
		metav1.FormatLabelSelector(job.Spec.Selector),
	}
}

func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if par := int32Or(job.Spec.Parallelism, 0); par > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, par)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

func (p *Printer) jobDuration(job *batchv1.Job) string {
	switch {
	case job.Status.StartTime == nil:
		return ""
	case job.Status.CompletionTime == nil:
		return duration.HumanDuration(p.now().Sub(job.Status.StartTime.Time))
	default:
		return duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
}

// jobStatus applies upstream's precedence: terminal conditions first, then
// deletion, suspension and a pending failure.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobConditionTrue(job, batchv1.JobComplete):
		return "Complete"
	case jobConditionTrue(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobConditionTrue(job, batchv1.JobSuspended):
		return "Suspended"
	case jobConditionTrue(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

func jobConditionTrue(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func cronJobColumns() []metav1.TableColumnDefinition {
	spec := batchv1.CronJobSpec{}.SwaggerDoc()
	status := batchv1.CronJobStatus{}.SwaggerDoc()
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Schedule", "string", spec["schedule"]),
		col("Timezone", "string", spec["timeZone"]),
		col("Suspend", "boolean", spec["suspend"]),
		col("Active", "integer", status["active"]),
		col("Last Schedule", "string", status["lastScheduleTime"]),
		ageColumn(),
	}, templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"])...)
}

func (p *Printer) cronJobRow(cj *batchv1.CronJob) []interface{} {
	last := none
	if cj.Status.LastScheduleTime != nil {
		last = p.since(*cj.Status.LastScheduleTime)
	}
	tmpl := cj.Spec.JobTemplate.Spec
	names, images := containerCells(tmpl.Template.Spec.Containers)
	return []interface{}{
		cj.Name,
		cj.Spec.Schedule,
		stringPtrOr(cj.Spec.TimeZone, none),
		boolPtrString(cj.Spec.Suspend),
		int64(len(cj.Status.Active)),
		last,
		p.since(cj.CreationTimestamp),
		names,
		images,
		metav1.FormatLabelSelector(tmpl.Selector),
	}
}
