package sentinelone

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how SentinelOne's ratings become bannin's 0–100 score.
const SeverityScale = "threats carry a confidence only: malicious 80, suspicious 50 (a mitigated threat keeps its score; " +
	"the mitigation is the alert's action); STAR alerts' rule severity: Critical 90, High 70, Medium 50, Low 30"

func init() {
	connector.Register(connector.Vendor{
		Name:    VendorName,
		Decoder: Decoder{},
		NewSource: func(cfg connector.Config) (connector.Source, error) {
			return NewSource(cfg)
		},
		NewResponder: func(cfg connector.Config) (connector.Responder, error) {
			return NewResponder(cfg)
		},
		NewSimulator:  func() connector.Simulator { return NewSim() },
		SeverityScale: SeverityScale,
	})
}
