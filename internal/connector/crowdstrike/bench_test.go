package crowdstrike

import (
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
)

// BenchmarkDecode measures decoding one Alerts API alert (about 2 KB).
func BenchmarkDecode(b *testing.B) {
	p := NewAlert("pc-0001", "0123456789abcdef0123456789abcdef", AlertSeverity(75), AlertCompositeID("bench:ind:1"),
		AlertTechnique("TA0006", "Credential Access", "T1003.001", "LSASS Memory"), AlertDisposition(alert.ActionNone))
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var d Decoder
	for b.Loop() {
		if _, err := d.Decode(p); err != nil {
			b.Fatal(err)
		}
	}
}
