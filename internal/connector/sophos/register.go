package sophos

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how Sophos Central's ratings become bannin's 0–100 score.
const SeverityScale = "SIEM alert severity: high 80, medium 50, low 30 (anything else 50); no ATT&CK ids are sent"

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
