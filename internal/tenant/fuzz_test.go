package tenant

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that the parser never panics, that a rejected file always
// says why, and that an accepted file survives a marshal/parse round trip.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("demo/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(Demo())
	f.Add(example)
	f.Add([]byte(head))
	f.Add([]byte(head + "contacts:\n  it: &a {email: it@example.com}\n  b: *a\n"))
	f.Add([]byte(head + "severity_scale: [a, b, c, d]\nnotify:\n  - severities: [a]\n    to: [{contact: x, via: email}]\n"))
	f.Add([]byte(head + "rules:\n  - {name: r, when: 'true', set: {suppress: true}}\n"))
	dir := f.TempDir()
	for name, content := range exampleFiles {
		if err := os.WriteFile(dir+"/"+name, []byte(content), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(dir+"/"+DemoWebhookSecretFile, []byte("x"), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tn, err := Parse(data, dir)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		out, err := yaml.Marshal(tn)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(out, dir)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if d := cmp.Diff(tn, again, tenantOpts); d != "" {
			t.Fatalf("round trip (-first +second):\n%s\n%s", d, out)
		}
	})
}
