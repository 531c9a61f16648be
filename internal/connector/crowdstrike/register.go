package crowdstrike

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how CrowdStrike's ratings become bannin's 0–100 score.
const SeverityScale = "Alerts API and Event Streams severity 1–100 is the score (clamped); " +
	"legacy DetectionSummary severity 1–5 maps 1→10, 2→30, 3→50, 4→70, 5→90; " +
	"without a number the name decides (Critical 90, High 70, Medium 50, Low 30, Informational 10)"

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
