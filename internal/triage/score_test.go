package triage

import (
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
)

func TestScore(t *testing.T) {
	hash := "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1"
	mk := func(score int, action alert.Action, techs ...string) *alert.Alert {
		return &alert.Alert{Vendor: "crowdstrike", Score: score, Action: action, Techniques: techs,
			Host: alert.Host{Name: "pc-1"}, Process: alert.Process{SHA256: hash}}
	}
	tests := []struct {
		name     string
		a        *alert.Alert
		f        facts
		score    int
		priority alert.Priority
		signals  []string
	}{
		{"ransomware is P0", mk(80, alert.ActionNone, "T1486"), facts{}, 100, alert.P0, []string{"vendor_severity", "technique"}},
		{"sub-technique matches its parent", mk(70, alert.ActionNone, "T1003.001"), facts{}, 80, alert.P1, []string{"vendor_severity", "technique"}},
		{"lateral movement is P1", mk(60, alert.ActionNone, "T1570"), facts{}, 70, alert.P1, []string{"vendor_severity", "technique"}},
		{"C2 is P2", mk(50, alert.ActionNone, "T1071"), facts{}, 55, alert.P2, []string{"vendor_severity", "technique"}},
		{"blocked lowers", mk(50, alert.ActionBlocked), facts{}, 35, alert.P3, []string{"vendor_severity", "vendor_action"}},
		{"critical host raises and makes P0", mk(75, alert.ActionNone), facts{critical: true}, 85, alert.P0, []string{"vendor_severity", "asset", "priority"}},
		{"spread raises and makes P1", mk(70, alert.ActionNone), facts{spreadHosts: 2, prevalenceOK: true, prevHosts: 3, prevDays: 1}, 85, alert.P1, []string{"vendor_severity", "lateral_spread"}},
		{"prevalent medium pattern is noise, not spread", mk(50, alert.ActionNone, "T1219"), facts{spreadHosts: 4, prevalenceOK: true, prevHosts: 8, prevDays: 5}, 25, alert.P3, []string{"vendor_severity", "technique", "prevalence"}},
		{"prevalent but high-rated is not noise", mk(80, alert.ActionNone), facts{prevalenceOK: true, prevHosts: 8, prevDays: 5}, 80, alert.P2, []string{"vendor_severity"}},
		{"credential access tactic alone is P1", &alert.Alert{Vendor: "x", Score: 40, Tactics: []string{"TA0006"}}, facts{}, 45, alert.P1, []string{"vendor_severity", "tactic"}},
		{"clamped at 100", mk(100, alert.ActionNone, "T1486", "T1003"), facts{critical: true}, 100, alert.P0, []string{"vendor_severity", "technique", "technique", "asset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := score(tt.a, tt.f)
			if j.score != tt.score || j.priority != tt.priority {
				t.Errorf("score = %d %s, want %d %s (evidence %+v)", j.score, j.priority, tt.score, tt.priority, j.evidence)
			}
			var got []string
			for _, e := range j.evidence {
				got = append(got, e.Signal)
				if e.Detail == "" || e.DetailJA == "" {
					t.Errorf("evidence %s lacks its English or Japanese detail: %+v", e.Signal, e)
				}
			}
			if len(got) != len(tt.signals) {
				t.Fatalf("signals = %v, want %v", got, tt.signals)
			}
			for i := range got {
				if got[i] != tt.signals[i] {
					t.Errorf("signals = %v, want %v", got, tt.signals)
				}
			}
		})
	}
}

func TestSuspicious(t *testing.T) {
	for _, c := range []struct {
		score  int
		action alert.Action
		want   bool
	}{{70, alert.ActionNone, true}, {69, alert.ActionNone, false}, {90, alert.ActionQuarantined, false}} {
		if got := suspicious(&alert.Alert{Score: c.score, Action: c.action}); got != c.want {
			t.Errorf("suspicious(%d, %s) = %v, want %v", c.score, c.action, got, c.want)
		}
	}
}
