package main

import (
	"strings"
	"testing"
)

func TestCalendarDue(t *testing.T) {
	// Friday before Golden Week 2026: 1 h on Friday 5/1, then 5/2–5/6 are
	// off (weekend, holidays, substitute 5/6), 1 h on Thursday 5/7.
	out, _, err := run(t, "calendar", "due", "--hours", "weekdays 09:00-18:00",
		"--from", "2026-05-01T17:00:00+09:00", "--duration", "2h")
	if err != nil {
		t.Fatal(err)
	}
	if out != "2026-05-07T10:00:00+09:00\n" {
		t.Errorf("got %q, want 2026-05-07T10:00:00+09:00", out)
	}
	// The same start in UTC, counted in Tokyo, printed in Tokyo.
	out, _, err = run(t, "calendar", "due", "--hours", "weekdays 09:00-18:00",
		"--from", "2026-05-01T08:00:00Z", "--business-days", "1")
	if err != nil {
		t.Fatal(err)
	}
	if out != "2026-05-07T18:00:00+09:00\n" {
		t.Errorf("got %q, want 2026-05-07T18:00:00+09:00", out)
	}
}

func TestCalendarDueErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hours", "weekdays 18:00-09:00", "--from", "2026-05-01T17:00:00+09:00", "--duration", "1h"}, "not before end"},
		{[]string{"--hours", "weekends", "--from", "2026-05-01T17:00:00+09:00", "--duration", "1h"}, "want 24x7"},
		{[]string{"--hours", "24x7", "--from", "2026-05-01 17:00", "--duration", "1h"}, "RFC 3339"},
		{[]string{"--hours", "24x7", "--from", "2026-05-01T17:00:00+09:00", "--duration", "1h", "--business-days", "1"}, "exactly one"},
		{[]string{"--hours", "24x7", "--from", "2026-05-01T17:00:00+09:00"}, "exactly one"},
		{[]string{"--hours", "24x7", "--from", "2026-05-01T17:00:00+09:00", "--duration", "1h", "--tz", "Mars/Olympus"}, "--tz"},
	} {
		out, _, err := run(t, append([]string{"calendar", "due"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("calendar due %v: err %v, want one containing %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("calendar due %v printed %q on an error", tc.args, out)
		}
	}
}
