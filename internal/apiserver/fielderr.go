package apiserver

import "k8s.io/apimachinery/pkg/util/validation/field"

// fieldErrs is a one-error list for a dotted field path.
func fieldErrs(path string, value any, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
