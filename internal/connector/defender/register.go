package defender

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how Defender's ratings become bannin's 0–100 score.
const SeverityScale = "MDE /api/alerts and Graph alerts severity: High 80, Medium 50, Low 30, Informational 10, " +
	"UnSpecified (Graph: unknown) 20"

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
