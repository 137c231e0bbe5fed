package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
)

// DefaultBodyLimit bounds request bodies that do not ask for more.
const DefaultBodyLimit = 64 << 10

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// DecodeJSON reads one JSON object from the request body into dst. It rejects a body that
// is not application/json (415), larger than limit bytes (413), malformed or followed by
// more data (400), or that carries a field dst does not have (400). The errors are *Error.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
	}
	if r.ContentLength > limit {
		return errBodyTooLarge(limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return decodeError(err, limit)
		}
		return NewError(http.StatusBadRequest, "malformed_json", "the body must hold exactly one JSON object")
	}
	return nil
}

// errBodyTooLarge is the 413 of a body over limit bytes.
func errBodyTooLarge(limit int64) error {
	return NewError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body must be at most %d bytes", limit))
}

func decodeError(err error, limit int64) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	var netErr net.Error
	switch {
	case errors.As(err, &maxErr):
		return errBodyTooLarge(limit)
	case errors.As(err, &netErr) && netErr.Timeout():
		// The read deadline (BodyReadTimeout) passed: a client far slower than the slow
		// link the limits are sized for, or one that never sends what it declared.
		return NewError(http.StatusRequestTimeout, "request_timeout", "the body did not arrive in time")
	case errors.Is(err, io.EOF):
		return NewError(http.StatusBadRequest, "malformed_json", "the body is empty")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return NewError(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return NewError(http.StatusBadRequest, "malformed_json", "the body must be a JSON object")
		}
		return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Detail: "some fields are invalid",
			Fields: map[string]string{field: "must be a " + typeErr.Type.String()}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return NewError(http.StatusBadRequest, "unknown_field", fmt.Sprintf("unknown field %q", name))
	default:
		return NewError(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
	}
}
