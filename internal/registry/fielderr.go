package registry

import "k8s.io/apimachinery/pkg/util/validation/field"

// fieldErrors is a one-error list for a dotted field path.
func fieldErrors(path string, value any, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
