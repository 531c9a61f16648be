package alert

import (
	"fmt"
	"strings"
)

// Priority is the handling order of seed 003: P0 ransomware or impact on a
// critical service, P1 credential theft or spreading, P2 malware, phishing or
// C2, P3 follow-up.
type Priority string

// The priorities, most urgent first.
const (
	P0 Priority = "P0"
	P1 Priority = "P1"
	P2 Priority = "P2"
	P3 Priority = "P3"
)

// ParsePriority accepts "P0".."P3" in any case.
func ParsePriority(s string) (Priority, error) {
	p := Priority(strings.ToUpper(strings.TrimSpace(s)))
	switch p {
	case P0, P1, P2, P3:
		return p, nil
	}
	return "", fmt.Errorf("priority %q: want P0, P1, P2 or P3", s)
}

// Rank orders priorities: P0 is 0, P3 is 3.
func (p Priority) Rank() int {
	switch p {
	case P0:
		return 0
	case P1:
		return 1
	case P2:
		return 2
	}
	return 3
}

// Higher returns the more urgent of p and q.
func (p Priority) Higher(q Priority) Priority {
	if q != "" && (p == "" || q.Rank() < p.Rank()) {
		return q
	}
	return p
}

// Scale is a tenant's severity scale: 4 to 6 level names, highest first.
type Scale []string

// DefaultScale is the scale used when a tenant names none.
var DefaultScale = Scale{"emergency", "critical", "high", "medium", "low"}

// cuts gives, per scale length, the lowest 0–100 score of each level,
// highest level first. The table is documented in docs/severity.md.
var cuts = map[int][]int{
	4: {85, 60, 35, 0},
	5: {90, 75, 60, 35, 0},
	6: {90, 80, 65, 50, 30, 0},
}

// Validate reports whether the scale has 4–6 distinct, non-empty names.
func (s Scale) Validate() error {
	if len(s) < 4 || len(s) > 6 {
		return fmt.Errorf("severity scale has %d levels: want 4 to 6", len(s))
	}
	seen := map[string]bool{}
	for _, n := range s {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("severity scale has an empty level name")
		}
		if seen[n] {
			return fmt.Errorf("severity scale names %q twice", n)
		}
		seen[n] = true
	}
	return nil
}

// Level cuts a 0–100 score into a level name of the scale.
func (s Scale) Level(score int) string {
	c := cuts[len(s)]
	for i, min := range c {
		if score >= min {
			return s[i]
		}
	}
	return s[len(s)-1]
}

// Index returns the position of a level name (0 = highest), or -1.
func (s Scale) Index(level string) int {
	for i, n := range s {
		if n == level {
			return i
		}
	}
	return -1
}

// AtLeast reports whether level is at or above min on the scale.
func (s Scale) AtLeast(level, min string) bool {
	i, j := s.Index(level), s.Index(min)
	return i >= 0 && j >= 0 && i <= j
}

// Floor returns the lowest score that still falls into level, so that a rule
// setting a severity can move the score with it.
func (s Scale) Floor(level string) int {
	i := s.Index(level)
	if i < 0 {
		return 0
	}
	return cuts[len(s)][i]
}

// Clamp keeps a score within 0–100.
func Clamp(score int) int {
	return max(0, min(100, score))
}
