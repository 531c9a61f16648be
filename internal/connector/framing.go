package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// Split cuts a body into single JSON payloads. It accepts one object, a JSON
// array of objects, NDJSON, or concatenated (also pretty-printed) objects, as
// vendors and their forwarders send them. Each payload is returned with the
// sender's bytes, white space around the object trimmed. A body that is not one
// of these forms is an error wrapping ErrBadPayload, naming where it broke.
func Split(body []byte) ([][]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadPayload)
	}
	if body[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("%w: JSON array: %v", ErrBadPayload, err)
		}
		out := make([][]byte, 0, len(items))
		for i, it := range items {
			it = bytes.TrimSpace(it)
			if len(it) == 0 || it[0] != '{' {
				return nil, fmt.Errorf("%w: array element %d is not an object", ErrBadPayload, i)
			}
			out = append(out, it)
		}
		return out, nil
	}
	if objs, ok := jsonfield.Objects(body); ok {
		return objs, nil // valid objects, the common case: no decoder needed
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var out [][]byte
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: payload %d (byte %d): %v", ErrBadPayload, len(out)+1, dec.InputOffset(), err)
		}
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("%w: payload %d is not a JSON object", ErrBadPayload, len(out)+1)
		}
		out = append(out, raw)
	}
	return out, nil
}
