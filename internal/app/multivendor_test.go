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
	"github.com/bannin-soc/bannin/internal/connector/crowdstrike"
	"github.com/bannin-soc/bannin/internal/connector/defender"
	_ "github.com/bannin-soc/bannin/internal/connector/syslog"
	"github.com/bannin-soc/bannin/internal/policy"
	"github.com/bannin-soc/bannin/internal/tenant"
	"github.com/bannin-soc/bannin/internal/view"
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
		var ws *view.IncidentOut
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

// TestReplayClocks checks the SLO clocks in replay output: credential
// theft on a PC is isolated and mailed at once (both clocks met); ransomware
// on the critical fs01 is mailed at once but its isolation waits for a
// person, and by the end of the replay (a day later) its 10-minute first
// response is breached — without anyone stopping it.
func TestReplayClocks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		at := day0.Add(10 * time.Hour) // the demo tenant's contract is 24x7
		input := append(ndjson(
			envelope(t, "falcon", at, csAlert("clk:theft", "pc-501", credentialTheft()...)),
			envelope(t, "falcon", at.Add(time.Minute), csAlert("clk:ransom", "fs01", crowdstrike.AlertSeverity(90),
				crowdstrike.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact"))),
			envelope(t, "falcon", at.Add(26*time.Hour), csAlert("clk:later", "pc-502", high())),
		), '\n')
		res, out := replay(t, b, input)
		clocks := map[string]map[string]string{}
		for _, in := range res.Incidents {
			for _, c := range in.Clocks {
				if clocks[in.Hosts[0]] == nil {
					clocks[in.Hosts[0]] = map[string]string{}
				}
				clocks[in.Hosts[0]][c.Name] = c.State
				if c.Due.Before(c.Started) || c.State == "met" && c.Stopped == nil || c.State == "running" && c.Stopped != nil {
					t.Errorf("%s %s: inconsistent clock %+v", in.ID, c.Name, c)
				}
			}
		}
		want := map[string]map[string]string{
			"pc-501": {"notification": "met", "first_response": "met"},
			"fs01":   {"notification": "met", "first_response": "breached"},
		}
		for host, w := range want {
			for name, state := range w {
				if clocks[host][name] != state {
					t.Errorf("%s %s clock: %q, want %q\n%s", host, name, clocks[host][name], state, out)
				}
			}
		}
	})
}
