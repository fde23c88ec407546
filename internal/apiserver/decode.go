package apiserver

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// readBody reads a request body up to upstream's size limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	return body, nil
}

// fieldValidation reads the fieldValidation parameter; upstream's default is
// Warn.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "":
		return metav1.FieldValidationWarn, nil
	case metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
		return v, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn, Strict; got %q", v))
}

// decodeInto decodes a JSON, YAML or protobuf body into a new object of the
// resource's kind. Unknown and duplicate fields are errors under Strict,
// warnings under Warn.
func (s *Server) decodeInto(w http.ResponseWriter, r *http.Request, body []byte, contentType string, gvk schema.GroupVersionKind, into runtime.Object) error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || contentType == "" {
		mediaType = "application/json"
	}
	validation, err := fieldValidation(r)
	if err != nil {
		return err
	}
	info, ok := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return unsupportedMediaType(mediaType)
	}
	dec := info.Serializer
	if info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, got, err := dec.Decode(body, &gvk, into)
	if err != nil {
		if !runtime.IsStrictDecodingError(err) {
			return apierrors.NewBadRequest(err.Error())
		}
		switch validation {
		case metav1.FieldValidationStrict:
			return apierrors.NewBadRequest(err.Error())
		case metav1.FieldValidationWarn:
			warn(w, err)
		}
	}
	if got != nil && (got.GroupVersion() != gvk.GroupVersion() || got.Kind != gvk.Kind) {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion()))
	}
	if obj != into {
		return apierrors.NewBadRequest(fmt.Sprintf("decoded %T, expected %T", obj, into))
	}
	into.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

// warn adds strict decoding problems as Warning headers, one per problem, as
// upstream does for fieldValidation=Warn.
func warn(w http.ResponseWriter, err error) {
	var sde interface{ Errors() []error }
	if errors.As(err, &sde) {
		for _, e := range sde.Errors() {
			w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(e.Error(), `"`, `\"`)+`"`)
		}
	}
}

// dryRun reads the dryRun parameter: only "All" is defined.
func dryRun(r *http.Request) (bool, error) {
	vals := r.URL.Query()["dryRun"]
	for _, v := range vals {
		if v != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q: only %q is supported", v, metav1.DryRunAll))
		}
	}
	return len(vals) > 0, nil
}
