package withsecure

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how WithSecure's ratings become bannin's 0–100 score.
const SeverityScale = "security event severity: critical 90, fatal_error 80, error 60, warning 40, info 10 " +
	"(a blocked or quarantined event keeps its score; what the product did is the alert's action)"

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
