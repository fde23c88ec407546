package registry

import (
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/envelope"
)

// codec stores objects as the protobuf of their served version, enveloped as
// upstream stores them; data written as JSON (by Skiff before it stored
// protobuf) still decodes. The resourceVersion is never stored: it is the
// etcd revision, set on read.
type codec struct {
	gvk schema.GroupVersionKind
	new func() runtime.Object
}

func (c codec) Decode(data []byte, rev int64) (runtime.Object, error) {
	obj := c.new()
	var err error
	if envelope.IsProtobuf(data) {
		err = envelope.Unmarshal(data, c.gvk, obj)
	} else {
		err = json.Unmarshal(data, obj)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.gvk.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(c.gvk)
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	a.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

// Encode returns the wire form of obj, with apiVersion and kind.
func (c codec) Encode(obj runtime.Object) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(c.gvk)
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.gvk.Kind, err)
	}
	return b, nil
}

// storageBytes is the stored form: the enveloped protobuf, without
// resourceVersion.
func (c codec) storageBytes(obj runtime.Object) ([]byte, error) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := a.GetResourceVersion()
	a.SetResourceVersion("")
	defer a.SetResourceVersion(rv)
	return envelope.Marshal(c.gvk, obj)
}
