package validation

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedRoleRefKinds = []string{"Role", "ClusterRole"}

// validatePolicyRules checks RBAC rules; non-resource URLs only make sense
// in ClusterRoles, which is what isClusterRole records.
func validatePolicyRules(rules []rbacv1.PolicyRule, isClusterRole bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, rule := range rules {
		idxPath := fldPath.Index(i)
		if len(rule.Verbs) == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(rule.NonResourceURLs) > 0 {
			if !isClusterRole {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(rule.APIGroups) == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(rule.Resources) == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return allErrs
}

func validateClusterRole(cr *rbacv1.ClusterRole) field.ErrorList {
	allErrs := validatePolicyRules(cr.Rules, true, field.NewPath("rules"))
	if cr.AggregationRule != nil {
		arPath := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(cr.AggregationRule.ClusterRoleSelectors) == 0 {
			allErrs = append(allErrs, field.Required(arPath, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range cr.AggregationRule.ClusterRoleSelectors {
			allErrs = append(allErrs, validateSelector(&cr.AggregationRule.ClusterRoleSelectors[i], arPath.Index(i))...)
		}
	}
	return allErrs
}

// validateRoleBinding checks the role reference and subjects; namespaced
// bindings may refer to Roles or ClusterRoles, cluster bindings only to
// ClusterRoles.
func validateRoleBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var allErrs field.ErrorList
	refPath := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		allErrs = append(allErrs, field.NotSupported(refPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := supportedRoleRefKinds
	if !namespaced {
		kinds = []string{"ClusterRole"}
	}
	if !contains(kinds, ref.Kind) {
		allErrs = append(allErrs, field.NotSupported(refPath.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		allErrs = append(allErrs, field.Required(refPath.Child("name"), ""))
	} else {
		allErrs = append(allErrs, invalidMsgs(refPath.Child("name"), ref.Name, path.ValidatePathSegmentName(ref.Name, false))...)
	}
	for i, s := range subjects {
		allErrs = append(allErrs, validateSubject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return allErrs
}

func validateSubject(s rbacv1.Subject, namespaced bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if s.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			allErrs = append(allErrs, invalidMsgs(fldPath.Child("name"), s.Name, path.ValidatePathSegmentName(s.Name, false))...)
		}
		if s.APIGroup != "" {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return allErrs
}

// immutableRoleRef reports the upstream error for a changed roleRef, which
// must be deleted and recreated instead.
func immutableRoleRef(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref == old {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
}
