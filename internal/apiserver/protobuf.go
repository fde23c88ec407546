package apiserver

import (
	"encoding/binary"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/envelope"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// Protobuf is what client-go asks built-in types for first: decoding it
// costs a fraction of JSON, which matters for every informer.
const (
	protobufType       = "application/vnd.kubernetes.protobuf"
	protobufStreamType = protobufType + ";stream=watch"
)

// protobufField appends a length-delimited field (wire type 2).
func protobufField(b []byte, field int, msg []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(msg)))
	return append(b, msg...)
}

// protobufList encodes a list from the items' cached messages: every k8s
// list is message { ListMeta metadata = 1; repeated T items = 2; }.
func protobufList(gvk schema.GroupVersionKind, items []*watchcache.Object, lm metav1.ListMeta) ([]byte, error) {
	meta, err := lm.Marshal()
	if err != nil {
		return nil, err
	}
	b := protobufField(make([]byte, 0, 64+len(items)*1024), 1, meta)
	for _, o := range items {
		msg, err := o.Protobuf()
		if err != nil {
			return nil, err
		}
		b = protobufField(b, 2, msg)
	}
	return envelope.Wrap(gvk.GroupVersion().WithKind(gvk.Kind+"List"), b)
}

// protobufWatchFrame encodes one watch event: a length-prefixed WatchEvent
// whose object is an enveloped protobuf object.
func protobufWatchFrame(t string, obj []byte) ([]byte, error) {
	ev := metav1.WatchEvent{Type: t, Object: runtime.RawExtension{Raw: obj}}
	msg, err := ev.Marshal()
	if err != nil {
		return nil, err
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), uint32(len(msg)))
	return append(frame, msg...), nil
}

func writeProtobuf(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", protobufType)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
