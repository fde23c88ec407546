package printers

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventColumns is shared by core/v1 and events.k8s.io/v1 Events, which
// upstream prints from the same internal type. Unlike every other kind, the
// Name column comes last and is wide-only.
func eventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	name := nameColumn()
	name.Priority = 1
	return []metav1.TableColumnDefinition{
		col("Last Seen", "string", doc["lastTimestamp"]),
		col("Type", "string", doc["type"]),
		col("Reason", "string", doc["reason"]),
		col("Object", "string", doc["involvedObject"]),
		wide(col("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
		wide(col("Source", "string", doc["source"])),
		col("Message", "string", doc["message"]),
		wide(col("First Seen", "string", doc["firstTimestamp"])),
		wide(col("Count", "string", doc["count"])),
		name,
	}
}

// eventView holds the fields both Event API versions share, named as in
// core/v1 (events.k8s.io/v1 maps onto them the way upstream converts it).
type eventView struct {
	name, eventType, reason, message   string
	involved                           corev1.ObjectReference
	source                             corev1.EventSource
	reportingController, reportingInst string
	first, last                        metav1.Time
	eventTime                          metav1.MicroTime
	count                              int32
	series                             *eventsv1.EventSeries
}

func (p *Printer) coreEventRow(e *corev1.Event) []interface{} {
	v := eventView{
		name: e.Name, eventType: e.Type, reason: e.Reason, message: e.Message,
		involved: e.InvolvedObject, source: e.Source,
		reportingController: e.ReportingController, reportingInst: e.ReportingInstance,
		first: e.FirstTimestamp, last: e.LastTimestamp, eventTime: e.EventTime, count: e.Count,
	}
	if e.Series != nil {
		v.series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return p.eventRow(v)
}

func (p *Printer) eventsV1Row(e *eventsv1.Event) []interface{} {
	return p.eventRow(eventView{
		name: e.Name, eventType: e.Type, reason: e.Reason, message: e.Note,
		involved: e.Regarding, source: e.DeprecatedSource,
		reportingController: e.ReportingController, reportingInst: e.ReportingInstance,
		first: e.DeprecatedFirstTimestamp, last: e.DeprecatedLastTimestamp, eventTime: e.EventTime,
		count: e.DeprecatedCount, series: e.Series,
	})
}

// eventRow falls back from the deprecated timestamps to eventTime and from
// count to the series, since new-style events only set the latter.
func (p *Printer) eventRow(v eventView) []interface{} {
	first := p.since(v.first)
	if v.first.IsZero() {
		first = p.sinceMicro(v.eventTime)
	}
	last := p.since(v.last)
	if v.last.IsZero() {
		last = first
	}
	count := v.count
	if v.series != nil {
		last = p.sinceMicro(v.series.LastObservedTime)
		count = v.series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(v.involved.Kind)
	if v.involved.Name != "" {
		target = fmt.Sprintf("%s/%s", target, v.involved.Name)
	}
	return []interface{}{
		last,
		v.eventType,
		v.reason,
		target,
		v.involved.FieldPath,
		eventSource(v),
		strings.TrimSpace(v.message),
		first,
		int64(count),
		v.name,
	}
}

// eventSource prints "component, host", preferring the legacy source fields
// over the reporting controller/instance.
func eventSource(v eventView) string {
	component := firstNonEmpty(v.source.Component, v.reportingController)
	host := firstNonEmpty(v.source.Host, v.reportingInst)
	if host == "" {
		return component
	}
	return component + ", " + host
}

func firstNonEmpty(values ...string) string {
	for _, s := range values {
		if s != "" {
			return s
		}
	}
	return ""
}
