package withsecure

import (
	"encoding/json"
	"fmt"
)

// NewEvent returns a DeepGuard security event, as the security-events list
// returns it, about the device deviceID: a blocked rare application. It has
// no id or times; Sim.Inject assigns them. Demos and tests inject it.
func NewEvent(deviceID, deviceName string) []byte {
	ev := map[string]any{
		"severity":     "warning",
		"acknowledged": false,
		"userName":     deviceName + `\analyst`,
		"engine":       "deepGuard",
		"action":       "blocked",
		"organization": map[string]string{"name": "bannin-demo", "id": "7e0b1d5c-5a57-4b45-9a3e-3c1f0a6d2b10"},
		"target":       map[string]string{"name": deviceName, "id": deviceID},
		"device":       map[string]string{"name": deviceName, "id": deviceID},
		"details": map[string]string{
			"alertType":     "deep_guard.admin.block",
			"filePath":      `C:\Users\analyst\Downloads\invoice.exe`,
			"commandLine":   `C:\Users\analyst\Downloads\invoice.exe /silent`,
			"sha1":          "e17865289c80d63673b09124b5a50f2915599478",
			"reputation":    "unknown",
			"rarity":        "rare",
			"name":          "DeepGuard blocks a rare application",
			"hostIpAddress": "10.20.30.40/24",
			"userName":      deviceName + `\analyst`,
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("withsecure: NewEvent: %v", err)) // a map of strings always marshals
	}
	return b
}
