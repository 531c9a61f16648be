package trellixhx

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how Trellix ratings become bannin's 0–100 score.
const SeverityScale = "HX alerts carry no severity, only their engine (source): MAL or EXD 80, IOC 70, " +
	"is_false_positive 10; Trellix EDR cloud events are telemetry: their severity (low 30 … critical 90) when present, else 20"

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
