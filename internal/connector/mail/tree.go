package mail

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// node is one element of a FireEye notification, whichever of its formats
// (JSON, XML, text) it came in: FireEye writes the same tree in each, with
// XML carrying some leaves as attributes. Names are compared folded (see
// fold), so "alert-url", "alertUrl" and "alert_url" are one name.
type node struct {
	name  string
	attrs map[string]string
	text  string
	kids  []*node
}

// maxNodes bounds the tree one notification may build.
const maxNodes = 20000

var errTooBig = errors.New("notification too large")

func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '_' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// child returns the first child with one of names, or an empty node.
func (n *node) child(names ...string) *node {
	if n != nil {
		for _, name := range names {
			f := fold(name)
			for _, k := range n.kids {
				if k.name == f {
					return k
				}
			}
		}
	}
	return &node{}
}

// all returns every child named name.
func (n *node) all(name string) []*node {
	var out []*node
	f := fold(name)
	for _, k := range n.kids {
		if k.name == f {
			out = append(out, k)
		}
	}
	return out
}

// str returns the first non-empty attribute or child text among names.
func (n *node) str(names ...string) string {
	for _, name := range names {
		f := fold(name)
		if v := strings.TrimSpace(n.attrs[f]); v != "" {
			return v
		}
		for _, k := range n.kids {
			if k.name == f && strings.TrimSpace(k.text) != "" {
				return strings.TrimSpace(k.text)
			}
		}
	}
	return ""
}

// jsonTree reads a JSON object into a tree, keeping the document's order;
// arrays become repeated children of one name. It streams tokens rather
// than decoding into maps, whose random order would make "first" random.
func jsonTree(b []byte) (*node, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	budget := maxNodes
	root := &node{}
	if err := jsonObject(d, root, &budget, 0); err != nil {
		return nil, err
	}
	return root, nil
}

// jsonObject reads the members of an object whose '{' has been read.
func jsonObject(d *json.Decoder, n *node, budget *int, depth int) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		if tok == json.Delim('}') {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("JSON object key is not a string")
		}
		if err := jsonValue(d, n, fold(key), budget, depth); err != nil {
			return err
		}
	}
}

// jsonValue reads one value and adds it to n as children named name.
func jsonValue(d *json.Decoder, n *node, name string, budget *int, depth int) error {
	if *budget--; *budget < 0 || depth > 64 {
		return errTooBig
	}
	tok, err := d.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			for d.More() {
				if err := jsonValue(d, n, name, budget, depth+1); err != nil {
					return err
				}
			}
			_, err := d.Token() // ']'
			return err
		}
		kid := &node{name: name}
		n.kids = append(n.kids, kid)
		return jsonObject(d, kid, budget, depth+1)
	case string:
		n.kids = append(n.kids, &node{name: name, text: strings.TrimSpace(v)})
	case json.Number:
		n.kids = append(n.kids, &node{name: name, text: v.String()})
	case bool:
		n.kids = append(n.kids, &node{name: name, text: strconv.FormatBool(v)})
	default: // null
		n.kids = append(n.kids, &node{name: name})
	}
	return nil
}

// xmlTree reads an XML document into a tree whose root is its document
// element.
func xmlTree(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var stack []*node
	var root *node
	budget := maxNodes
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if budget--; budget < 0 {
				return nil, errTooBig
			}
			n := &node{name: fold(t.Name.Local), attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[fold(a.Name.Local)] = a.Value
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no XML element")
	}
	return root, nil
}

// reTextHead matches a section line of FireEye's text notification that
// carries attributes: "alert (id:88, name:malware-callback):" or
// "malware (name:Trojan.Gootkit):".
var reTextHead = regexp.MustCompile(`^([A-Za-z][\w-]*)\s*\(([^)]*)\)\s*:?\s*$`)

// textTree reads FireEye's text notification: "key: value" lines nested by
// indentation, a line "key:" opening a section, and sections that carry
// attributes in parentheses.
func textTree(s string) *node {
	type level struct {
		indent int
		n      *node
	}
	root := &node{}
	stack := []level{{-1, root}}
	budget := maxNodes
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || budget <= 0 {
			continue
		}
		budget--
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		for len(stack) > 1 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		parent := stack[len(stack)-1].n
		if m := reTextHead.FindStringSubmatch(trimmed); m != nil {
			n := &node{name: fold(m[1]), attrs: textAttrs(m[2])}
			parent.kids = append(parent.kids, n)
			stack = append(stack, level{indent, n})
			continue
		}
		key, val, ok := strings.Cut(trimmed, ":")
		if !ok || strings.ContainsAny(key, " \t") && !isSpacedKey(key) {
			continue
		}
		n := &node{name: fold(key), text: strings.TrimSpace(val)}
		parent.kids = append(parent.kids, n)
		if n.text == "" {
			stack = append(stack, level{indent, n})
		}
	}
	return root
}

// isSpacedKey allows the few two-word keys FireEye's text uses.
func isSpacedKey(k string) bool { return len(strings.Fields(k)) <= 3 }

func textAttrs(s string) map[string]string {
	attrs := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			attrs[fold(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return attrs
}
