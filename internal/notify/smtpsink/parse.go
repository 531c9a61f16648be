package smtpsink

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// wordDecoder decodes RFC 2047 encoded words, in any charset x/text knows:
// Japanese mail still arrives as ISO-2022-JP or Shift_JIS from older systems.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "utf8", "us-ascii":
		return r, nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", charset, err)
	}
	return enc.NewDecoder().Reader(r), nil
}

// parsed is what a raw message decodes into.
type parsed struct {
	header  mail.Header
	subject string
	text    string
	html    string
}

// parse decodes a raw message: the subject's encoded words, and the first
// text/plain and text/html parts with their transfer encoding and charset
// undone. Line breaks in the bodies come back as "\n".
func parse(raw []byte) (parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return parsed{}, fmt.Errorf("read message: %w", err)
	}
	p := parsed{header: m.Header}
	if p.subject, err = wordDecoder.DecodeHeader(m.Header.Get("Subject")); err != nil {
		p.subject = m.Header.Get("Subject")
	}
	if err := p.walk(headerGetter(m.Header), m.Body, 0); err != nil {
		return p, err
	}
	return p, nil
}

type headerGetter interface{ Get(string) string }

// maxDepth stops a hostile message from nesting multiparts without end.
const maxDepth = 10

func (p *parsed) walk(h headerGetter, body io.Reader, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("multipart nested deeper than %d", maxDepth)
	}
	mediaType, params := "text/plain", map[string]string{}
	if ct := h.Get("Content-Type"); ct != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(ct); err != nil {
			return fmt.Errorf("content-type %q: %w", ct, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart() // raw: transfer encodings are undone below, uniformly
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil // attachments are kept in Raw only
	}
	r, err := charsetReader(params["charset"], transferDecoder(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && p.text == "":
		p.text = s
	case mediaType == "text/html" && p.html == "":
		p.html = s
	}
	return nil
}

func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // skips the line breaks
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}
