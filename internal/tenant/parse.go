package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bannin-soc/bannin/internal/alert"

	// The tenant's zone must load even where the system has no zoneinfo
	// (distroless and scratch images).
	_ "time/tzdata"
)

// MaxFileSize bounds a tenant file; real ones are a few kilobytes.
const MaxFileSize = 1 << 20

// LineError is one problem in a tenant file, at a line.
type LineError struct {
	File string
	Line int
	Msg  string
}

// Error formats the problem as "file:line: message", as compilers do.
func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Option adjusts Parse and Load.
type Option func(*options)

type options struct {
	file      string
	vendors   func(string) bool
	ruleCheck func(Rule) error
	noFiles   bool
}

// WithoutFiles parses a tenant file as stored, away from the files it
// names: secret, certificate and key files are neither read nor checked,
// and the secrets stay empty. For reading a stored tenant's contract
// (clocks, routes), never for running its sources.
func WithoutFiles() Option { return func(o *options) { o.noFiles = true } }

// WithFilename names the file in error messages (default "tenant.yaml";
// Load uses the path it was given).
func WithFilename(name string) Option { return func(o *options) { o.file = name } }

// WithVendors makes a source's vendor valid only when known(vendor) is true,
// typically a lookup in the connector registry. Without it any non-empty
// vendor is accepted.
func WithVendors(known func(name string) bool) Option {
	return func(o *options) { o.vendors = known }
}

// WithRuleCheck checks every rule once parsed; package policy provides one
// that compiles the CEL expression. Its error is reported at the rule's line.
func WithRuleCheck(check func(Rule) error) Option {
	return func(o *options) { o.ruleCheck = check }
}

// Load reads and parses a tenant file. Secret files are relative to the
// file's directory.
func Load(path string, opts ...Option) (*Tenant, error) {
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("load tenant: %w", err)
	}
	opts = append([]Option{WithFilename(path)}, opts...)
	return Parse(data, filepath.Dir(path), opts...)
}

// Parse parses and validates a tenant file. Relative secret-file paths are
// taken from dir. All problems are reported together (errors.Join of
// *LineError, in line order).
func Parse(data []byte, dir string, opts ...Option) (*Tenant, error) {
	o := options{file: "tenant.yaml"}
	for _, opt := range opts {
		opt(&o)
	}
	if len(data) > MaxFileSize {
		return nil, &LineError{o.file, 1, fmt.Sprintf("file has %d bytes: want at most %d", len(data), MaxFileSize)}
	}
	root, err := parseYAML(data, o.file)
	if err != nil {
		return nil, err
	}
	d := &decoder{o: o, dir: dir}
	if d.checkNodes(root); len(d.errs) > 0 {
		return nil, d.err()
	}
	t := d.tenant(root)
	if err := d.err(); err != nil {
		return nil, err
	}
	return t, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the root node of the only document in data.
func parseYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LineError{file, 1, "empty tenant file"}
		}
		return nil, yamlError(file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &LineError{file, next.Line, "a second YAML document: want one"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &LineError{file, 1, "empty tenant file"}
	}
	return doc.Content[0], nil
}

func yamlError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &LineError{file, n, m[2]}
	}
	return &LineError{file, 1, strings.TrimPrefix(err.Error(), "yaml: ")}
}

// decoder walks the YAML tree, collecting every problem with its line.
type decoder struct {
	o     options
	dir   string
	errs  []*LineError
	scale alert.Scale
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &LineError{d.o.file, n.Line, fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *LineError) int { return a.Line - b.Line })
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// checkNodes refuses anchors and aliases, since a tenant file is small and
// following aliases would let a short file expand without bound, and explicit
// tags, which would change what a plain value means.
func (d *decoder) checkNodes(n *yaml.Node) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.errorf(n, "anchors and aliases are not supported")
		return
	}
	if n.Style&yaml.TaggedStyle != 0 {
		d.errorf(n, "explicit tag %q is not supported: quote the value instead", n.Tag)
	}
	for _, c := range n.Content {
		d.checkNodes(c)
	}
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// fields checks that n is a mapping with only the given keys, each once, and
// returns the value node of each key present. A null n is an empty mapping.
func (d *decoder) fields(n *yaml.Node, what string, keys ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping", what)
		return out
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, "%s: keys must be plain names", what)
		case first[k.Value] != 0:
			d.errorf(k, "duplicate key %q (first on line %d)", k.Value, first[k.Value])
		case keys != nil && !slices.Contains(keys, k.Value):
			d.errorf(k, "unknown key %q (want one of: %s)", k.Value, strings.Join(keys, ", "))
		default:
			first[k.Value] = k.Line
			out[k.Value] = v
		}
	}
	return out
}

// require reports the keys missing from a mapping decoded by fields.
func (d *decoder) require(n *yaml.Node, got map[string]*yaml.Node, keys ...string) {
	if !isNull(n) && n.Kind != yaml.MappingNode {
		return // fields reported it
	}
	for _, k := range keys {
		if v, ok := got[k]; !ok || isNull(v) || (v.Kind == yaml.ScalarNode && v.Value == "") {
			line := n
			if ok {
				line = v
			}
			d.errorf(line, "missing key %q", k)
		}
	}
}

// str returns a scalar's text; null is "".
func (d *decoder) str(n *yaml.Node, key string) string {
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: want a single value", key)
		return ""
	}
	return n.Value
}

// seq returns the items of a list; null is an empty list.
func (d *decoder) seq(n *yaml.Node, key string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list", key)
		return nil
	}
	return n.Content
}

func (d *decoder) strs(n *yaml.Node, key string) []string {
	var out []string
	for _, c := range d.seq(n, key) {
		if s := d.str(c, key); s != "" {
			out = append(out, s)
		} else {
			d.errorf(c, "%s: empty item", key)
		}
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, key string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s %q: want true or false", key, n.Value)
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return b
}

// oneOf checks a value against a closed set, e.g. `language "fr": want ja or en`.
func (d *decoder) oneOf(n *yaml.Node, key, val string, allowed ...string) bool {
	if slices.Contains(allowed, val) {
		return true
	}
	want := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	d.errorf(n, "%s %q: want %s", key, val, want)
	return false
}

// severity checks that a level name is on the tenant's scale.
func (d *decoder) severity(n *yaml.Node, key, val string) bool {
	if d.scale.Index(val) >= 0 {
		return true
	}
	d.errorf(n, "%s %q: not on the severity scale (%s)", key, val, strings.Join(d.scale, ", "))
	return false
}

// readLimited reads a regular file of at most max bytes, so that a path
// such as /dev/zero cannot hang or exhaust the process.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s has %d bytes: want at most %d", path, st.Size(), max)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// secret reads a secret file named by key, relative to the tenant file's
// directory; the error names the resolved path.
func (d *decoder) secret(n *yaml.Node, key, name string) []byte {
	if d.o.noFiles {
		return nil
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	b, err := readLimited(p, 64<<10)
	if err != nil {
		d.errorf(n, "%s: %v", key, err)
		return nil
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		d.errorf(n, "%s: %s is empty", key, p)
		return nil
	}
	return b
}

// path resolves a file named by key relative to the tenant file's
// directory, checking that it can be read; "" when the key is absent.
func (d *decoder) path(n *yaml.Node, key string) string {
	name := d.str(n, key)
	if name == "" {
		return ""
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	if d.o.noFiles {
		return p
	}
	if _, err := readLimited(p, 1<<20); err != nil {
		d.errorf(n, "%s: %v", key, err)
	}
	return p
}
