package syslog

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how syslog messages' ratings become bannin's 0–100 score.
const SeverityScale = "CEF severity 0–10 ×10 (Low 30, Medium 50, High 70, Very-High 90); LEEF sev 1–10 ×10; " +
	"FortiGate level emergency 100 … warning 50, notice 30, information 10 (IPS severity critical 90 … info 10); " +
	"PAN-OS critical 90, high 70, medium 50, low 30, informational 10; unparsed messages 0"

func init() {
	connector.Register(connector.Vendor{
		Name:          VendorName,
		Decoder:       Decoder{},
		NewListeners:  newListeners,
		SeverityScale: SeverityScale,
	})
}
