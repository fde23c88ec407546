// Package watchcache keeps an in-memory copy of one resource type, fed by a
// single etcd watch, and answers lists and watches from it so that readers
// never wait on etcd or on writers.
package watchcache

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Codec turns stored bytes into served objects.
type Codec interface {
	// Decode returns the typed object, with its apiVersion, kind and
	// resourceVersion (rev) set.
	Decode(data []byte, rev int64) (runtime.Object, error)
}

// AttrFunc returns the labels and the selectable fields of an object.
type AttrFunc func(obj runtime.Object) (labels.Set, fields.Set)

// Object is a cached object. It is shared by every reader: never mutate Obj.
type Object struct {
	Key    string
	Obj    runtime.Object
	Rev    int64
	Labels labels.Set
	Fields fields.Set
	// Stored is the value as etcd holds it, which lets a write tell that
	// it changes nothing by comparing bytes, as upstream's storage does.
	Stored []byte

	// The wire forms are encoded on first use and kept, so that lists and
	// watch events are written without encoding an object twice.
	jsonOnce sync.Once
	json     []byte
	jsonErr  error
	pbOnce   sync.Once
	pb       []byte
	pbErr    error
}

// JSON returns Obj's JSON wire form.
func (o *Object) JSON() ([]byte, error) {
	o.jsonOnce.Do(func() { o.json, o.jsonErr = json.Marshal(o.Obj) })
	return o.json, o.jsonErr
}

// Protobuf returns Obj's protobuf message (without the envelope that names
// its kind), encoded on first use and kept, as Raw is for JSON.
func (o *Object) Protobuf() ([]byte, error) {
	o.pbOnce.Do(func() {
		m, ok := o.Obj.(interface{ Marshal() ([]byte, error) })
		if !ok {
			o.pbErr = fmt.Errorf("%T has no protobuf encoding", o.Obj)
			return
		}
		o.pb, o.pbErr = m.Marshal()
	})
	return o.pb, o.pbErr
}

// Event is one change seen by the cache. Prev is the object before the change
// (nil for ADDED); for DELETED, Object is the last state with the deletion's
// revision.
type Event struct {
	Type   watch.EventType
	Object *Object
	Prev   *Object
	Rev    int64
}

// Predicate selects objects by key prefix (a namespace), labels and fields.
type Predicate struct {
	// KeyPrefix restricts matches to keys with this prefix (for example a
	// namespace's subtree); empty means the whole resource.
	KeyPrefix string
	Label     labels.Selector
	Field     fields.Selector
}

// Matches reports whether o passes the predicate.
func (p Predicate) Matches(o *Object) bool {
	if o == nil {
		return false
	}
	if p.KeyPrefix != "" && !strings.HasPrefix(o.Key, p.KeyPrefix) {
		return false
	}
	if p.Label != nil && !p.Label.Empty() && !p.Label.Matches(o.Labels) {
		return false
	}
	if p.Field != nil && !p.Field.Empty() && !p.Field.Matches(o.Fields) {
		return false
	}
	return true
}
