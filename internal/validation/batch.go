package validation

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxCronJobNameLength leaves room for the 11-character suffix the CronJob
// controller appends to job names, which must stay DNS-1035 labels.
const maxCronJobNameLength = 52

var (
	supportedJobRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedCompletionModes    = []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}
	supportedConcurrency        = []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}
	supportedPodReplacement     = []batchv1.PodReplacementPolicy{batchv1.TerminatingOrFailed, batchv1.Failed}
)

func validateJob(job *batchv1.Job) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validateJobSpec(&job.Spec, specPath)
	// The job REST strategy generates a selector before validation unless
	// manualSelector is set, so a nil selector only comes from callers that
	// skipped that step; the template checks still apply.
	if job.Spec.Selector == nil {
		return allErrs
	}
	allErrs = append(allErrs, validateSelector(job.Spec.Selector, specPath.Child("selector"))...)
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err == nil && !sel.Matches(labels.Set(job.Spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(specPath.Child("template", "metadata", "labels"), job.Spec.Template.Labels, selectorMismatchMsg))
	}
	return allErrs
}

// validateJobSpec holds the rules shared by Jobs and CronJob job templates.
func validateJobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, nonNegativePtr(spec.Parallelism, fldPath.Child("parallelism"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.Completions, fldPath.Child("completions"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.BackoffLimit, fldPath.Child("backoffLimit"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.TTLSecondsAfterFinished, fldPath.Child("ttlSecondsAfterFinished"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.BackoffLimitPerIndex, fldPath.Child("backoffLimitPerIndex"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.MaxFailedIndexes, fldPath.Child("maxFailedIndexes"))...)
	if spec.CompletionMode != nil {
		mode := *spec.CompletionMode
		if !contains(supportedCompletionModes, mode) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("completionMode"), mode, supportedCompletionModes))
		}
		if mode == batchv1.IndexedCompletion && spec.Completions == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
	}
	if spec.BackoffLimitPerIndex != nil && (spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex,
			"requires indexed completion mode"))
	}
	if spec.PodReplacementPolicy != nil && !contains(supportedPodReplacement, *spec.PodReplacementPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("podReplacementPolicy"), *spec.PodReplacementPolicy, supportedPodReplacement))
	}
	tmplPath := fldPath.Child("template")
	allErrs = append(allErrs, validatePodTemplateSpec(&spec.Template, tmplPath)...)
	if rp := spec.Template.Spec.RestartPolicy; !contains(supportedJobRestartPolicies, rp) {
		allErrs = append(allErrs, field.NotSupported(tmplPath.Child("spec", "restartPolicy"), rp, supportedJobRestartPolicies))
	}
	return allErrs
}

// validateJobUpdate keeps what the job controller relies on stable. Upstream
// lets a suspended, never-started job adjust scheduling directives of its
// template; every other template change is rejected.
func validateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	allErrs = append(allErrs, immutable(job.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	allErrs = append(allErrs, immutable(job.Spec.CompletionMode, old.Spec.CompletionMode, specPath.Child("completionMode"))...)
	if !(isIndexed(job) && job.Spec.Completions != nil && job.Spec.Parallelism != nil &&
		*job.Spec.Completions == *job.Spec.Parallelism) {
		allErrs = append(allErrs, immutable(job.Spec.Completions, old.Spec.Completions, specPath.Child("completions"))...)
	}
	newTmpl := job.Spec.Template.DeepCopy()
	if isSuspendedAndUnstarted(old) {
		newTmpl.Spec.NodeSelector = old.Spec.Template.Spec.NodeSelector
		newTmpl.Spec.Tolerations = old.Spec.Template.Spec.Tolerations
		newTmpl.Spec.Affinity = old.Spec.Template.Spec.Affinity
		newTmpl.Spec.SchedulingGates = old.Spec.Template.Spec.SchedulingGates
		newTmpl.Labels = old.Spec.Template.Labels
		newTmpl.Annotations = old.Spec.Template.Annotations
	}
	if !apiequality.Semantic.DeepEqual(newTmpl, &old.Spec.Template) {
		allErrs = append(allErrs, field.Invalid(specPath.Child("template"), job.Spec.Template, "field is immutable"))
	}
	return allErrs
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func isSuspendedAndUnstarted(job *batchv1.Job) bool {
	return job.Spec.Suspend != nil && *job.Spec.Suspend && job.Status.StartTime == nil
}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	var allErrs field.ErrorList
	if len(cj.Name) > maxCronJobNameLength {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	specPath := field.NewPath("spec")
	spec := &cj.Spec
	schedPath := specPath.Child("schedule")
	switch {
	case spec.Schedule == "":
		allErrs = append(allErrs, field.Required(schedPath, ""))
	case strings.Contains(spec.Schedule, "TZ"):
		allErrs = append(allErrs, field.Invalid(schedPath, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	default:
		if _, err := ParseCronSchedule(spec.Schedule); err != nil {
			allErrs = append(allErrs, field.Invalid(schedPath, spec.Schedule, err.Error()))
		}
	}
	if spec.TimeZone != nil {
		if _, err := time.LoadLocation(*spec.TimeZone); err != nil || *spec.TimeZone == "" || strings.EqualFold(*spec.TimeZone, "local") {
			allErrs = append(allErrs, field.Invalid(specPath.Child("timeZone"), *spec.TimeZone, "unknown time zone "+*spec.TimeZone))
		}
	}
	if spec.ConcurrencyPolicy == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("concurrencyPolicy"), ""))
	} else if !contains(supportedConcurrency, spec.ConcurrencyPolicy) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("concurrencyPolicy"), spec.ConcurrencyPolicy, supportedConcurrency))
	}
	allErrs = append(allErrs, nonNegativePtr(spec.StartingDeadlineSeconds, specPath.Child("startingDeadlineSeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.SuccessfulJobsHistoryLimit, specPath.Child("successfulJobsHistoryLimit"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.FailedJobsHistoryLimit, specPath.Child("failedJobsHistoryLimit"))...)
	jtPath := specPath.Child("jobTemplate")
	allErrs = append(allErrs, validateTemplateMeta(&spec.JobTemplate.ObjectMeta, jtPath.Child("metadata"))...)
	allErrs = append(allErrs, validateJobSpec(&spec.JobTemplate.Spec, jtPath.Child("spec"))...)
	return allErrs
}
