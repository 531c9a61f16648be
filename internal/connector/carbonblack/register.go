package carbonblack

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how Carbon Black's ratings become bannin's 0–100 score.
const SeverityScale = "alert severity 1–10 × 10 (1→10 … 10→100); an alert without a severity in 1–10 is quarantined"

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
