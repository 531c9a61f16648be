package connector

import (
	"fmt"
	"testing"
)

func TestListHelpers(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []string
		want string
	}{
		{"NonEmpty", NonEmpty("a", "", "b", "", "a"), "[a b a]"},
		{"Uniq", Uniq(" a", "", "b", "a ", "  "), "[a b]"},
		{"AppendNew new", AppendNew([]string{"a"}, "b"), "[a b]"},
		{"AppendNew repeat", AppendNew([]string{"a", "b"}, "a"), "[a b]"},
	} {
		if fmt.Sprint(c.got) != c.want {
			t.Errorf("%s = %v, want %s", c.name, c.got, c.want)
		}
	}
}
