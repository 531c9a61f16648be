package mail

import "github.com/bannin-soc/bannin/internal/connector"

// SeverityScale says how alert mails' ratings become bannin's 0–100 score.
const SeverityScale = "FireEye NX/EX notification severity crit 90, majr 70, minr 40 (other 50); " +
	"anti-virus mails carry no rating: cleaned/deleted/quarantined 40 (action mitigated), not cleaned or not said 70; " +
	"an unrecognised mail 0 (rule mail:unparsed)"

func init() {
	connector.Register(connector.Vendor{
		Name:          VendorName,
		Decoder:       Decoder{},
		NewListeners:  newListeners,
		SeverityScale: SeverityScale,
	})
}
