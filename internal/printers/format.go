package printers

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"

	// listLimit caps comma lists (endpoints, hosts, ports) the way upstream
	// does, summarising the tail as "+ N more...".
	listLimit = 3
)

// Column constructors keep the per-kind definitions terse.

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc("name")}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc("creationTimestamp")}
}

func col(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide marks a column as priority 1: kubectl shows it only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// templateColumns are the wide Containers/Images(/Selector) columns shared by
// the workload controllers.
func templateColumns(selectorDoc string) []metav1.TableColumnDefinition {
	cols := []metav1.TableColumnDefinition{
		wide(col("Containers", "string", "Names of each container in the template.")),
		wide(col("Images", "string", "Images referenced by each container in the template.")),
	}
	if selectorDoc != "" {
		cols = append(cols, wide(col("Selector", "string", selectorDoc)))
	}
	return cols
}

func objectMetaDoc(field string) string {
	return metav1.ObjectMeta{}.SwaggerDoc()[field]
}

// since renders the age of t relative to the printer's clock.
func (p *Printer) since(t metav1.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(p.now().Sub(t.Time))
}

func (p *Printer) sinceMicro(t metav1.MicroTime) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(p.now().Sub(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func boolPtrString(b *bool) string {
	if b == nil {
		return unset
	}
	if *b {
		return "True"
	}
	return "False"
}

func int32Or(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func quantityString(q *resource.Quantity) string {
	if q == nil {
		return "<nil>"
	}
	return q.String()
}

// containerCells joins container names and images into the two wide cells.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// limitedList joins the first listLimit items and summarises the rest.
// total is the number of items the caller saw, which may exceed len(items).
func limitedList(items []string, total int, sep string) string {
	if len(items) > listLimit {
		items = items[:listLimit]
	}
	s := strings.Join(items, sep)
	if total > listLimit {
		return fmt.Sprintf("%s + %d more...", s, total-listLimit)
	}
	return s
}

// accessModesString renders access modes in upstream's fixed order,
// ignoring duplicates.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	order := []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	}
	var out []string
	for _, o := range order {
		for _, m := range modes {
			if m == o.mode {
				out = append(out, o.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

// sortedUnique returns the distinct non-empty values in sorted order.
func sortedUnique(values []string) []string {
	seen := make(map[string]bool, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
