package mail

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOne(t *testing.T, payload []byte) alert.Alert {
	t.Helper()
	got, err := Decoder{}.Decode(payload)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Decode returned %d alerts, want 1", len(got))
	}
	return got[0]
}

// TestGolden decodes every testdata mail and compares the alerts with
// testdata/golden/<name>.json (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata mails: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			got, err := Decoder{}.Decode(readTestdata(t, name+".eml"))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("decoded alerts differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestDecodeFields checks the fields that matter per mail, independent of
// the golden files: Japanese names must come out as Japanese text whatever
// the charset and transfer encoding.
func TestDecodeFields(t *testing.T) {
	tests := []struct {
		file                  string
		rule, host, user, md5 string
		score                 int
		action                alert.Action
		ips                   []string
	}{
		{"trend-ja-iso2022jp.eml", "av:TROJ_FRS.VSNTJ524", "経理部-PC05", "山田太郎", "", 40, alert.ActionQuarantined, []string{"10.1.5.25"}},
		{"virusbuster-ja-base64.eml", "av:Ransom.Win32.LOCKBIT.SMYXCJT", "営業-NB12", "鈴木花子", "", 70, alert.ActionNone, []string{"10.1.7.112"}},
		{"officescan-ja-sjis.eml", "av:HEUR_OLEXP.B", "総務-PC21", "", "", 40, alert.ActionQuarantined, nil},
		{"eset-html-utf8.eml", "av:Win32/Agent.ADXQ トロイの木馬", "開発-WS03", `DEV\sato`, "", 40, alert.ActionQuarantined, []string{"10.3.0.33"}},
		{"symantec-en-utf8.eml", "av:Trojan.Gen.2", "WKS-LON-014", `ACME\j.smith`, "", 40, alert.ActionQuarantined, []string{"192.168.40.14"}},
		{"fireeye-nx-json.eml", "fireeye:malware-callback:Trojan.Gootkit", "pc-sales-041.corp.example.co.jp", "", "", 70, alert.ActionNone, []string{"10.20.30.41"}},
		{"fireeye-nx-xml.eml", "fireeye:malware-object:Trojan.Emotet.DNS", "pc-acct-007", "", "5f2b7f3e1c8a9d0e4b6a7c8d9e0f1a2b", 90, alert.ActionBlocked, []string{"10.20.31.7"}},
		{"fireeye-nx-text.eml", "fireeye:malware-callback:Backdoor.APT.PlugX", "srv-file01", "", "", 90, alert.ActionBlocked, []string{"10.20.30.77"}},
		{"fireeye-ex-json.eml", "fireeye:malware-object:Phish.Doc.Macro", "", "taro.yamada@acme.example.co.jp", "0123456789abcdef0123456789abcdef", 40, alert.ActionNone, nil},
		{"unparsed-ja-utf8.eml", RuleUnparsed, "nas-01", "", "", 0, alert.ActionNone, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a := decodeOne(t, readTestdata(t, tt.file))
			got := []any{a.Rule, a.Host.Name, a.User, a.Process.MD5, a.Score, a.Action, a.Host.IPs}
			want := []any{tt.rule, tt.host, tt.user, tt.md5, tt.score, tt.action, tt.ips}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rule, host, user, md5, score, action, ips (-want +got):\n%s", diff)
			}
			if a.Vendor != VendorName || a.VendorID == "" || a.EventTime.IsZero() || len(a.Raw) == 0 {
				t.Errorf("vendor %q id %q time %v raw %d bytes", a.Vendor, a.VendorID, a.EventTime, len(a.Raw))
			}
		})
	}
}

// TestDecodeSubjects: encoded-word subjects in ISO-2022-JP, Shift_JIS and
// UTF-8 decode to text.
func TestDecodeSubjects(t *testing.T) {
	tests := map[string]string{
		"trend-ja-iso2022jp.eml":    "ウイルス検出通知: 経理部-PC05",
		"virusbuster-ja-base64.eml": "【ウイルスバスター】ウイルスを駆除できませんでした",
		"officescan-ja-sjis.eml":    "ウイルス検出 (OfficeScan)",
		"symantec-en-utf8.eml":      "Risk Found! — WKS-LON-014",
	}
	for file, want := range tests {
		if got := decodeOne(t, readTestdata(t, file)).Description; got != want {
			t.Errorf("%s: subject %q, want %q", file, got, want)
		}
	}
	if got := decodeOne(t, readTestdata(t, "unparsed-ja-utf8.eml")).Title; got != "【警告】ディスク使用率が90%を超えました" {
		t.Errorf("unparsed title %q", got)
	}
}

// TestDecodeEnvelope: the listener's envelope decodes to the same alert as
// the raw message, with the receipt time set.
func TestDecodeEnvelope(t *testing.T) {
	raw := readTestdata(t, "fireeye-nx-xml.eml")
	env, err := json.Marshal(Envelope{Received: testClock, Peer: "192.0.2.10:25000", MailFrom: "fireeye-nx02@example.co.jp", Rcpt: "soc+acme@bannin.example", Message: raw})
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, fromRaw := decodeOne(t, env), decodeOne(t, raw)
	if !fromEnv.Received.Equal(testClock) {
		t.Errorf("received %v, want %v", fromEnv.Received, testClock)
	}
	if string(fromEnv.Raw) != string(env) {
		t.Error("Raw is not the payload as given")
	}
	fromEnv.Received, fromEnv.Raw, fromRaw.Raw = time.Time{}, nil, nil
	if diff := cmp.Diff(fromRaw, fromEnv); diff != "" {
		t.Errorf("envelope and raw decode differently (-raw +envelope):\n%s", diff)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	tests := map[string]string{
		"empty":               "",
		"white space":         " \n\t",
		"JSON without mail":   `{"alert":{"id":"1"}}`,
		"JSON not an object":  `[1,2]`,
		"broken JSON":         `{"message":`,
		"message not base64":  `{"message":"!!!"}`,
		"no header":           "just some words\nand more\n",
		"header without mail": "X-Thing: 1\n\nbody\n",
	}
	for name, payload := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Decoder{}.Decode([]byte(payload))
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("err = %v, want ErrBadPayload", err)
			}
		})
	}
}

// TestDecodeKeepsOddMail: a mail that is damaged or of no known format
// still becomes an alert; it is never dropped.
func TestDecodeKeepsOddMail(t *testing.T) {
	tests := map[string]string{
		"subject only":                      "Subject: hello\n\n",
		"bad base64 body":                   "From: a@b.example\nSubject: x\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
		"unknown charset":                   "From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=x-klingon\n\nComputer: PC9\n",
		"broken multipart":                  "From: a@b.example\nSubject: x\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nVirus: EICAR\n",
		"FireEye JSON without alert fields": "From: a@b.example\nSubject: FireEye\nContent-Type: application/json\n\n{\"alert\":{}}\n",
	}
	for name, msg := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Decoder{}.Decode([]byte(msg))
			if err != nil || len(got) != 1 {
				t.Fatalf("Decode = %d alerts, %v; want one alert", len(got), err)
			}
		})
	}
}

func TestDecodeFireEyeJSONManyAlerts(t *testing.T) {
	msg := "From: fe@nx.example\nSubject: digest\nContent-Type: application/json\n\n" +
		`{"appliance-id":"A1","product":"Web MPS","alert":[` +
		`{"id":"1","name":"malware-callback","severity":"minr","src":{"ip":"10.0.0.1"}},` +
		`{"id":"2","name":"infection-match","severity":"crit","src":{"ip":"10.0.0.2"},"occurred":1760625391000}]}`
	got, err := Decoder{}.Decode([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var scores []int
	for _, a := range got {
		ids, scores = append(ids, a.VendorID), append(scores, a.Score)
	}
	if diff := cmp.Diff([]string{"fireeye:A1:1", "fireeye:A1:2"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{40, 90}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	if want := time.UnixMilli(1760625391000).UTC(); !got[1].EventTime.Equal(want) {
		t.Errorf("epoch-ms occurred read as %v, want %v", got[1].EventTime, want)
	}
}

func TestAVAction(t *testing.T) {
	tests := []struct {
		text string
		want alert.Action
	}{
		{"Quarantined", alert.ActionQuarantined},
		{"Cleaned by deleting", alert.ActionQuarantined},
		{"隔離", alert.ActionQuarantined},
		{"削除により駆除済み", alert.ActionQuarantined},
		{"駆除できません (放置)", alert.ActionNone},
		{"隔離に失敗しました", alert.ActionNone},
		{"Clean failed, quarantine failed", alert.ActionNone},
		{"Left alone", alert.ActionNone},
		{"Access denied", alert.ActionBlocked},
		{"Process terminated", alert.ActionKilled},
		{"", alert.ActionNone},
		{"ログのみ", alert.ActionNone},
	}
	for _, tt := range tests {
		if got := avAction(tt.text); got != tt.want {
			t.Errorf("avAction(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestDecodeCharsetOmitted: a Japanese mailer that leaves out the charset
// still sends ISO-2022-JP, recognised by its escape sequences.
func TestDecodeCharsetOmitted(t *testing.T) {
	body := "\x1b$B%3%s%T%e!<%?L>\x1b(B: PC01\n\x1b$B%&%$%k%9L>\x1b(B: EICAR\n\x1b$B=hM}7k2L\x1b(B: \x1b$B3VN%\x1b(B\n"
	a := decodeOne(t, []byte("From: av@x.example\nSubject: alert\n\n"+body))
	if a.Host.Name != "PC01" || a.Rule != "av:EICAR" || a.Action != alert.ActionQuarantined {
		t.Errorf("host %q rule %q action %q", a.Host.Name, a.Rule, a.Action)
	}
}

func TestDecodeForwardedMail(t *testing.T) {
	inner := readTestdata(t, "symantec-en-utf8.eml")
	msg := "From: relay@acme.example.com\nSubject: Fwd: Risk Found!\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n" +
		"--B\nContent-Type: text/plain\n\nforwarded\n--B\nContent-Type: message/rfc822\n\n" + string(inner) + "\n--B--\n"
	a := decodeOne(t, []byte(msg))
	if a.Rule != "av:Trojan.Gen.2" || a.Host.Name != "WKS-LON-014" {
		t.Errorf("rule %q host %q", a.Rule, a.Host.Name)
	}
}

// TestRegistered: the vendor is in the registry with no pull source, no
// responder and no simulator.
func TestRegistered(t *testing.T) {
	v, err := connector.Lookup(VendorName)
	if err != nil {
		t.Fatal(err)
	}
	if v.NewSource != nil || v.NewResponder != nil || v.NewSimulator != nil || v.SeverityScale == "" {
		t.Errorf("registration %+v", v)
	}
}

func TestFrame(t *testing.T) {
	eml := readTestdata(t, "trend-ja-iso2022jp.eml")
	env, _ := json.Marshal(Envelope{Received: testClock, Message: eml})
	mbox := "From apexone@acme.example.co.jp Tue Oct 20 14:05:40 2026\n" + string(eml) +
		"\nFrom sepm@acme.example.com Thu Oct 22 08:30:12 2026\n" + string(readTestdata(t, "symantec-en-utf8.eml")) +
		"\n>From the console: quoted line\n"
	tests := []struct {
		name  string
		body  string
		rules []string
	}{
		{"eml", string(eml), []string{"av:TROJ_FRS.VSNTJ524"}},
		{"NDJSON envelopes", string(env) + "\n" + string(env) + "\n", []string{"av:TROJ_FRS.VSNTJ524", "av:TROJ_FRS.VSNTJ524"}},
		{"mbox", mbox, []string{"av:TROJ_FRS.VSNTJ524", "av:Trojan.Gen.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payloads, err := Decoder{}.Frame([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, p := range payloads {
				rules = append(rules, decodeOne(t, p).Rule)
			}
			if diff := cmp.Diff(tt.rules, rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
	payloads, _ := Decoder{}.Frame([]byte(mbox))
	if !strings.Contains(string(payloads[1]), "\nFrom the console: quoted line") {
		t.Error(`mbox ">From " line not unquoted`)
	}
	if _, err := (Decoder{}).Frame([]byte(" \n")); !errors.Is(err, connector.ErrBadPayload) {
		t.Errorf("empty input: %v", err)
	}
}
