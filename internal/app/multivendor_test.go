package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/app"
	"github.com/bannin-soc/bannin/internal/connector/defender"
	_ "github.com/bannin-soc/bannin/internal/connector/syslog"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
)

// multiYAML is a tenant with three sources of three vendors: an EDR, a
// second EDR on part of the estate, and the firewall's syslog.
const multiYAML = `id: multi
name: Multi Vendor K.K.
language: ja
timezone: Asia/Tokyo
sources:
  - name: falcon
    vendor: crowdstrike
  - name: mde
    vendor: defender
  - name: fw
    vendor: syslog
containment: {mode: investigate_first}
contacts:
  soc: {name: SOC, email: soc@multi.example}
notify:
  - severities: [emergency, critical, high]
    to: [{contact: soc, via: email}]
`

func multiTenant(t *testing.T) *tenant.Tenant {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenant.yaml")
	if err := os.WriteFile(path, []byte(multiYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path, tenant.WithRuleCheck(policy.RuleCheck))
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestReplayMultiVendor replays one NDJSON of mixed payloads for a tenant
// with three vendors. Host ws-007 is seen by CrowdStrike (by name, with its
// address), then by Defender (by its DNS name), then by the firewall, which
// names only the address: all three alerts join one incident. An alert on
// another host stays apart.
func TestReplayMultiVendor(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		cs := csAlert("mv:cs:1", "ws-007", credentialTheft()...)
		var csShape struct {
			Device struct {
				LocalIP string `json:"local_ip"`
			} `json:"device"`
		}
		if err := json.Unmarshal(cs, &csShape); err != nil || csShape.Device.LocalIP == "" {
			t.Fatalf("CrowdStrike test alert has no local_ip: %v", err)
		}
		ip := csShape.Device.LocalIP
		at := day0.Add(9 * time.Hour)
		mde := defender.NewAlert("WS-007.corp.example", "mde-machine-007",
			defender.AlertField("id", "da637100000000000001_1"), defender.AlertField("alertCreationTime", at.Add(10*time.Minute).Format(time.RFC3339)),
			defender.AlertField("lastUpdateTime", at.Add(10*time.Minute).Format(time.RFC3339)))
		fwLine := fmt.Sprintf("<14>Mar  2 09:30:00 PA-5220 CEF:0|Palo Alto Networks|PAN-OS|10.1.6|virus|THREAT|8|"+
			"src=%s dst=198.51.100.23 cat=Virus/Win32.WGeneric act=alert externalId=7700999 request=invoice.exe", ip)
		fw, _ := json.Marshal(map[string]string{"received": at.Add(20 * time.Minute).Format(time.RFC3339Nano),
			"peer": "192.0.2.1:514", "transport": "udp", "message": fwLine})
		line := func(source string, at time.Time, payload []byte) []byte {
			b, err := json.Marshal(app.Envelope{Tenant: "multi", Source: source, ReceivedAt: at, Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		input := append(ndjson(
			line("falcon", at, cs),
			line("mde", at.Add(10*time.Minute), mde),
			line("fw", at.Add(20*time.Minute), fw),
			line("falcon", at.Add(30*time.Minute), csAlert("mv:cs:2", "pc-100", high())),
		), '\n')
		res, out := replayTenants(t, b, input, multiTenant(t))
		if res.Alerts.Accepted != 4 || res.Alerts.Quarantined != 0 {
			t.Fatalf("alerts %+v, want 4 accepted, none quarantined\n%s", res.Alerts, out)
		}
		var ws *app.IncidentOut
		for i := range res.Incidents {
			if slices.Contains(res.Incidents[i].Hosts, "ws-007") {
				ws = &res.Incidents[i]
			}
		}
		if ws == nil || len(res.Incidents) != 2 {
			t.Fatalf("want 2 incidents, one on ws-007; got\n%s", out)
		}
		if ws.AlertCount != 3 || strings.Join(ws.Vendors, ",") != "crowdstrike,defender,syslog" || len(ws.Hosts) != 1 {
			t.Errorf("ws-007 incident: %d alerts from %v on %v; want 3 alerts from crowdstrike, defender and syslog on ws-007 alone\n%s",
				ws.AlertCount, ws.Vendors, ws.Hosts, out)
		}
		if !hasEvidence(*ws, "host_match") {
			t.Errorf("ws-007 incident: no host_match evidence saying the firewall's address was matched to the host\n%s", out)
		}
	})
}
