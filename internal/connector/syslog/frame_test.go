package syslog

import (
	"errors"
	"strings"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/google/go-cmp/cmp"
)

func TestFrame(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"lines", "\ufeff<13>a\r\n\n<14>b c\nCEF:0|V|P|1|s|n|5|\n", []string{"<13>a", "<14>b c", "CEF:0|V|P|1|s|n|5|"}, ""},
		{"PAN-OS CSV lines without header", "1,2026/03/10 12:04:10,0132,THREAT\n", []string{"1,2026/03/10 12:04:10,0132,THREAT"}, ""},
		{"envelopes", "{\"message\":\"<13>a\"}\n{\"message\":\"<13>b\"}\n", []string{`{"message":"<13>a"}`, `{"message":"<13>b"}`}, ""},
		{"octet counting", "5 <13>a7 <14>b\nc", []string{"<13>a", "<14>b\nc"}, ""},
		{"broken octet counting", "5 <13>a9 <14>b", nil, "stream ended inside a frame"},
		{"empty", " \n ", nil, "empty input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decoder{}.Frame([]byte(tt.in))
			if tt.err != "" {
				if !errors.Is(err, connector.ErrBadPayload) || !contains(err, tt.err) {
					t.Fatalf("Frame error %v, want ErrBadPayload saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, string(p))
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Errorf("Frame (-want +got):\n%s", diff)
			}
		})
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }
