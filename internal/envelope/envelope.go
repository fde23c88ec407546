// Package envelope wraps protobuf messages of API objects the way Kubernetes
// does on the wire and in storage: a 4-byte magic number, then a
// runtime.Unknown that names the kind and carries the message.
package envelope

import (
	"bytes"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// magic starts every enveloped object ("k8s\x00").
var magic = []byte{0x6b, 0x38, 0x73, 0x00}

// ErrNotProtobuf is returned by Unwrap for data without the magic number.
var ErrNotProtobuf = errors.New("envelope: not a protobuf object")

// Message is an object with a protobuf encoding (every k8s.io/api type).
type Message interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// IsProtobuf reports whether data starts with the envelope's magic number.
func IsProtobuf(data []byte) bool { return bytes.HasPrefix(data, magic) }

// Wrap envelopes an encoded message of kind gvk.
func Wrap(gvk schema.GroupVersionKind, msg []byte) ([]byte, error) {
	u := runtime.Unknown{
		TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
		Raw:      msg,
	}
	b, err := u.Marshal()
	if err != nil {
		return nil, fmt.Errorf("envelope %v: %w", gvk, err)
	}
	return append(append(make([]byte, 0, len(magic)+len(b)), magic...), b...), nil
}

// Marshal encodes obj and envelopes it.
func Marshal(gvk schema.GroupVersionKind, obj runtime.Object) ([]byte, error) {
	m, ok := obj.(Message)
	if !ok {
		return nil, fmt.Errorf("envelope: %T has no protobuf encoding", obj)
	}
	msg, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", gvk, err)
	}
	return Wrap(gvk, msg)
}

// Unmarshal decodes enveloped data into obj, which must be of the kind the
// envelope names.
func Unmarshal(data []byte, gvk schema.GroupVersionKind, obj runtime.Object) error {
	if !IsProtobuf(data) {
		return ErrNotProtobuf
	}
	var u runtime.Unknown
	if err := u.Unmarshal(data[len(magic):]); err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if u.APIVersion != gvk.GroupVersion().String() || u.Kind != gvk.Kind {
		return fmt.Errorf("envelope holds %s %s, want %v", u.APIVersion, u.Kind, gvk)
	}
	m, ok := obj.(Message)
	if !ok {
		return fmt.Errorf("envelope: %T has no protobuf encoding", obj)
	}
	if err := m.Unmarshal(u.Raw); err != nil {
		return fmt.Errorf("decode %v: %w", gvk, err)
	}
	return nil
}
