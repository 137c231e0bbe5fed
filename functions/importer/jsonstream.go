package importer

import (
	"encoding/json"
	"errors"
	"io"
)

// maxElementBytes bounds one element of a JSON array as it is decoded: an entry holds at
// most 1 MiB of content, which JSON escaping can make several times longer, so this leaves
// room; a single giant value is refused instead of filling memory.
const maxElementBytes = 16 << 20

var errElementTooLarge = errors.New("importer: a JSON element is too large")

// guardReader fails reads once the decoder has taken more than maxElementBytes since the
// element it decodes began.
type guardReader struct {
	r    io.Reader
	n    int64
	mark int64
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.n-g.mark > maxElementBytes {
		return 0, errElementTooLarge
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

// streamArrays reads a JSON object from r and calls each handler with the decoder once per
// element of the array under its key, so only one element is in memory at a time. Other
// keys are skipped token by token. A key with a handler whose value is not an array, or
// JSON that does not parse, is the user's error (named after file).
func streamArrays(file string, r io.Reader, handlers map[string]func(dec *json.Decoder, index int) error) error {
	g := &guardReader{r: r}
	dec := json.NewDecoder(g)
	syntax := func(err error) error {
		if errors.Is(err, errElementTooLarge) {
			return badInput("%s holds a value larger than an entry may be", file)
		}
		var bz *errBadZip
		var bi *errBadInput
		if errors.As(err, &bz) || errors.As(err, &bi) {
			return err
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return badInput("%s is not valid JSON of the expected shape (near byte %d)", file, dec.InputOffset())
		}
		return err
	}
	expect := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return badInput("%s is not valid JSON of the expected shape (near byte %d)", file, dec.InputOffset())
		}
		return nil
	}
	if err := expect('{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key, _ := tok.(string)
		h, ok := handlers[key]
		if !ok {
			if err := skipValue(dec); err != nil {
				return syntax(err)
			}
			continue
		}
		if err := expect('['); err != nil {
			return err
		}
		for i := 0; dec.More(); i++ {
			g.mark = dec.InputOffset()
			if err := h(dec, i); err != nil {
				return syntax(err)
			}
		}
		if err := expect(']'); err != nil {
			return err
		}
	}
	if err := expect('}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return badInput("%s holds more than one JSON value", file)
	}
	return nil
}

// skipValue reads past one JSON value.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// readSmallJSON decodes a whole small file of the zip (a manifest) into v.
func readSmallJSON(a *archive, name string, limit int64, v any) error {
	rc, size, err := a.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	if size > limit {
		return badInput("%s is larger than %d bytes", name, limit)
	}
	if err := json.NewDecoder(rc).Decode(v); err != nil {
		var bz *errBadZip
		if errors.As(err, &bz) {
			return err
		}
		return badInput("%s is not valid JSON of the expected shape", name)
	}
	return nil
}
