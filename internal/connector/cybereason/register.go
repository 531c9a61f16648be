package cybereason

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how Cybereason's ratings become bannin's 0–100 score.
const SeverityScale = "MalOp severity (else malopSeverity): High 80, Medium 50, Low 30; without one, priority " +
	"HIGH/MEDIUM/LOW the same way; neither 50. One alert per machine of the MalOp"

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
