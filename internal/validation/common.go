package validation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// immutable reports a "field is immutable" error when the values differ
// semantically (so 1Gi and 1024Mi compare equal, as upstream).
func immutable(newVal, oldVal any, fldPath *field.Path) field.ErrorList {
	if apiequality.Semantic.DeepEqual(newVal, oldVal) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, newVal, apimachineryvalidation.FieldImmutableErrorMsg)}
}

// nonNegative checks a plain integer field.
func nonNegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// nonNegativePtr checks an optional integer field.
func nonNegativePtr[T ~int32 | ~int64](value *T, fldPath *field.Path) field.ErrorList {
	if value == nil {
		return nil
	}
	return nonNegative(int64(*value), fldPath)
}

// validateReplicaCounts checks status counters, reported in a stable order.
func validateReplicaCounts(fldPath *field.Path, counts map[string]int32) field.ErrorList {
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	sort.Strings(names)
	var allErrs field.ErrorList
	for _, name := range names {
		allErrs = append(allErrs, nonNegative(int64(counts[name]), fldPath.Child(name))...)
	}
	return allErrs
}

// invalidMsgs turns helper messages into Invalid errors on one field.
func invalidMsgs(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range msgs {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateDNS1123Label checks a field that must be an RFC 1123 label.
func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	return invalidMsgs(fldPath, value, utilvalidation.IsDNS1123Label(value))
}

// validateDNS1123Subdomain checks a field that must be an RFC 1123 subdomain.
func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	return invalidMsgs(fldPath, value, utilvalidation.IsDNS1123Subdomain(value))
}

// validateQualifiedName checks label-key style names such as
// "example.com/name".
func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return invalidMsgs(fldPath, value, utilvalidation.IsQualifiedName(value))
}

// validatePortNumOrName checks a port given either as a number or an
// IANA_SVC_NAME.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return invalidMsgs(fldPath, port.IntValue(), utilvalidation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return invalidMsgs(fldPath, port.StrVal, utilvalidation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type))}
}

// percentValue reports the numeric value of a "N%" string.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || !strings.HasSuffix(v.StrVal, "%") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if err != nil {
		return 0, false
	}
	return n, true
}

// intOrPercentValue returns the number behind an int-or-percent, or 0 when
// the value is malformed (that case is reported separately).
func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if n, ok := percentValue(*v); ok {
		return n
	}
	if v.Type == intstr.Int {
		return v.IntValue()
	}
	return 0
}

// validatePositiveIntOrPercent accepts a non-negative integer or a valid
// percentage string.
func validatePositiveIntOrPercent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	switch v.Type {
	case intstr.String:
		return invalidMsgs(fldPath, *v, utilvalidation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, *v, "must be an integer or percentage (e.g '5%')")}
}

// notMoreThan100Percent rejects percentages above 100%.
func notMoreThan100Percent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if n, ok := percentValue(*v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, *v, "must not be greater than 100%")}
	}
	return nil
}

// validateSelector checks a label selector's syntax.
func validateSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
}

// validateNonNegativeQuantity rejects negative resource quantities.
func validateNonNegativeQuantity(q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), apimachineryvalidation.IsNegativeErrorMsg)}
	}
	return nil
}

// sortedKeys returns map keys in a stable order so that error lists are
// deterministic.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// validateTemplateMeta checks the labels and annotations of an embedded
// template's metadata; names of templates are never validated.
func validateTemplateMeta(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	allErrs := metav1validation.ValidateLabels(m.Labels, fldPath.Child("labels"))
	return append(allErrs, apimachineryvalidation.ValidateAnnotations(m.Annotations, fldPath.Child("annotations"))...)
}
