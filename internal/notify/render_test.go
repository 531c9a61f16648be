package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bannin-soc/bannin/internal/alert"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// jst is fixed rather than loaded so the tests need no tz database.
var jst = time.FixedZone("JST", 9*60*60)

// sampleNotice is the ransomware-on-the-file-server case of seed 003's P0,
// in the words a Japanese or an English tenant would get.
func sampleNotice(lang string) Notice {
	n := Notice{
		TenantName: "北斗精機株式会社",
		Language:   lang,
		IncidentID: "INC-20260310-0007",
		Priority:   alert.P0,
		Severity:   "emergency",
		Score:      96,
		Hosts:      []string{"fs01", "pc-023"},
		Users:      []string{`HOKUTO\tanaka`},
		Techniques: []string{"T1486", "T1490"},
		Title:      "ランサムウェアの疑い",
		Summary:    "vssadmin.exe によるシャドウコピーの削除に続き、共有フォルダのファイルが短時間に大量に書き換えられました。",
		Evidence: []Evidence{
			{Signal: "vendor", Contribution: 70, Detail: "CrowdStrike severity 90 (Critical)"},
			{Signal: "technique", Contribution: 20, Detail: "T1486 Data Encrypted for Impact"},
			{Signal: "asset", Contribution: 6, Detail: "fs01 is a critical host"},
		},
		Isolation:    IsolationAwaitingApproval,
		VendorAction: "none",
		DetectedAt:   time.Date(2026, 3, 9, 17, 14, 5, 0, time.UTC),
		Location:     jst,
		ConsoleURL:   "https://soc.example.jp/incidents/INC-20260310-0007",
	}
	if lang == "en" {
		n.TenantName = "Hokuto Seiki"
		n.Title = "Suspected ransomware"
		n.Summary = "Shadow copies were deleted with vssadmin.exe, then many files on a shared folder were rewritten within minutes."
	}
	return n
}

func TestRenderGolden(t *testing.T) {
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			m, err := Render(sampleNotice(lang))
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + m.Subject + "\n\n--- text ---\n" + m.Text + "\n--- short ---\n" + m.Short + "\n\n--- html ---\n" + m.HTML
			golden(t, filepath.Join("testdata", "render_"+lang+".golden"), got)
		})
	}
}

// golden compares got with the file, or rewrites the file under -update so
// that wording changes are reviewed in the diff.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// TestRenderIsolation checks every isolation state in both languages: the
// isolation label, the first thing asked of the reader, and the short form.
func TestRenderIsolation(t *testing.T) {
	type want struct{ label, step, short string }
	wants := map[string]map[IsolationState]want{
		"ja": {
			IsolationNotNeeded:        {"隔離の要否: 不要", "ファイルサーバや共有フォルダ", "隔離は不要と判断"},
			IsolationAwaitingApproval: {"隔離の要否: 必要（貴社の承認待ち）", "承認してください: bannin incident approve INC-1", "承認してください: bannin incident approve INC-1"},
			IsolationRequested:        {"隔離の要否: 必要（隔離を実施中）", "隔離が完了するまで、対象端末（fs01）の利用を控えて", "隔離を実施中"},
			IsolationDone:             {"隔離の要否: 必要（隔離済み）", "対象端末（fs01）は隔離済み", "隔離済み"},
			IsolationFailed:           {"隔離の要否: 必要（自動隔離に失敗）", "LAN ケーブルを抜く", "自動隔離に失敗"},
		},
		"en": {
			IsolationNotNeeded:        {"Isolation: Not needed", "Check file servers", "do not consider isolating the affected host necessary"},
			IsolationAwaitingApproval: {"Isolation: Needed: awaiting your approval", "approve the network isolation of fs01: bannin incident approve INC-1", "Please approve: bannin incident approve INC-1"},
			IsolationRequested:        {"Isolation: Needed: isolation in progress", "Until isolation completes, please stop using fs01", "The affected host is being isolated"},
			IsolationDone:             {"Isolation: Needed: isolated", "Isolation of fs01 is complete", "The affected host has been isolated"},
			IsolationFailed:           {"Isolation: Needed: automatic isolation failed", "unplug its network cable", "Automatic isolation failed"},
		},
	}
	for _, lang := range Languages {
		for _, st := range IsolationStates {
			t.Run(lang+"/"+string(st), func(t *testing.T) {
				w, ok := wants[lang][st]
				if !ok {
					t.Fatalf("no expectation for %s/%s", lang, st)
				}
				n := sampleNotice(lang)
				n.IncidentID, n.Hosts, n.Isolation = "INC-1", []string{"fs01"}, st
				m, err := Render(n)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(m.Text, w.label) {
					t.Errorf("text lacks %q:\n%s", w.label, m.Text)
				}
				if first := firstStep(t, m.Text); !strings.Contains(first, w.step) {
					t.Errorf("first step %q lacks %q", first, w.step)
				}
				if !strings.Contains(m.HTML, w.step) {
					t.Errorf("html lacks %q", w.step)
				}
				if !strings.Contains(m.Short, w.short) {
					t.Errorf("short %q lacks %q", m.Short, w.short)
				}
				if s := RenderShort(n); s != m.Short {
					t.Errorf("RenderShort = %q, Render's Short = %q", s, m.Short)
				}
			})
		}
	}
}

// firstStep returns the text after "1. " in a rendered text body.
func firstStep(t *testing.T, text string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if s, ok := strings.CutPrefix(l, "1. "); ok {
			return s
		}
	}
	t.Fatalf("no numbered step in:\n%s", text)
	return ""
}

func TestRenderPriorities(t *testing.T) {
	tests := []struct {
		lang     string
		p        alert.Priority
		severity string
		subject  string
		meaning  string
		step     string
	}{
		{"ja", alert.P0, "emergency", "【番人】[P0/緊急] 北斗精機株式会社 fs01 でランサムウェアの疑い", "ランサムウェアや重要なサービスへの影響", "バックアップをネットワークから切り離し"},
		{"ja", alert.P1, "critical", "【番人】[P1/重大] 北斗精機株式会社 fs01 でランサムウェアの疑い", "横展開", `対象ユーザー（HOKUTO\tanaka）のパスワードを変更`},
		{"ja", alert.P2, "high", "【番人】[P2/高] 北斗精機株式会社 fs01 でランサムウェアの疑い", "フィッシング", "不審なメールの添付ファイル"},
		{"ja", alert.P3, "過検知", "【番人】[P3/過検知] 北斗精機株式会社 fs01 でランサムウェアの疑い", "直ちに被害につながるものではありません", "緊急の対応は不要です"},
		{"en", alert.P0, "emergency", "[bannin] [P0/Emergency] Hokuto Seiki: Suspected ransomware on fs01", "Ransomware or an impact on a critical service", "Disconnect your backups"},
		{"en", alert.P1, "高", "[bannin] [P1/High] Hokuto Seiki: Suspected ransomware on fs01", "lateral movement", `Change the password of HOKUTO\tanaka`},
		{"en", alert.P2, "medium", "[bannin] [P2/Medium] Hokuto Seiki: Suspected ransomware on fs01", "phishing", "suspicious attachment or link"},
		{"en", alert.P3, "Tier-4", "[bannin] [P3/Tier-4] Hokuto Seiki: Suspected ransomware on fs01", "does not put you at immediate risk", "No urgent action is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+string(tt.p), func(t *testing.T) {
			n := sampleNotice(tt.lang)
			n.Priority, n.Severity, n.Hosts, n.Isolation = tt.p, tt.severity, []string{"fs01"}, IsolationNotNeeded
			m, err := Render(n)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", m.Subject, tt.subject)
			}
			for _, s := range []string{tt.meaning, tt.step} {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("text or html lacks %q", s)
				}
			}
		})
	}
}

func TestRenderDetails(t *testing.T) {
	n := sampleNotice("ja")
	n.Kind, n.VendorAction = KindUpdate, "Quarantined"
	n.Hosts = []string{"fs01", "pc-023", "pc-024"}
	n.Title = "ランサムウェアの疑い\r\nBcc: evil@example.com" // must not break the header
	m, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[続報]", "fs01 他2台", "Bcc: evil@example.com"} {
		if !strings.Contains(m.Subject, want) {
			t.Errorf("subject %q lacks %q", m.Subject, want)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", m.Subject)
	}
	for _, want := range []string{
		"状況が更新されました",
		"EDR が不審なファイルを検疫しました",
		"検知日時: 2026年3月10日 02:14 JST", // 17:14 UTC shown in the tenant's zone
		"+70  vendor: CrowdStrike severity 90 (Critical)",
		"コンソール: https://soc.example.jp/incidents/INC-20260310-0007",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if m.Language != "ja" || m.IncidentID != n.IncidentID || m.URL != n.ConsoleURL {
		t.Errorf("message labels = %q %q %q", m.Language, m.IncidentID, m.URL)
	}

	n.Language, n.Title = "en", "<script>alert(1)</script>"
	m, err = Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") {
		t.Error("html does not escape the title")
	}
	if !strings.Contains(m.Subject, "fs01 and 2 more hosts") || !strings.Contains(m.Subject, "[Update]") {
		t.Errorf("subject = %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Detected at: Tue, 10 Mar 2026 02:14 JST") {
		t.Errorf("text lacks the time in the tenant's zone:\n%s", m.Text)
	}
}

func TestRenderDefaultsAndErrors(t *testing.T) {
	n := sampleNotice("")
	n.Location, n.DetectedAt, n.Severity, n.Hosts = nil, time.Date(2026, 3, 9, 17, 14, 0, 0, time.UTC), "", nil
	m, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"検知日時: 2026年3月9日 17:14 UTC", "深刻度: 未判定", "対象端末: 不明"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("empty language, zone, severity or hosts: text lacks %q", want)
		}
	}
	if m, err := Render(Notice{Language: "ja-JP", IncidentID: "X", Priority: "p2", Isolation: IsolationDone}); err != nil || m.Language != "ja" {
		t.Errorf("regional language and lower-case priority: %q, %v", m.Language, err)
	}

	bad := map[string]func(*Notice){
		"language":  func(n *Notice) { n.Language = "fr" },
		"incident":  func(n *Notice) { n.IncidentID = " " },
		"priority":  func(n *Notice) { n.Priority = "P9" },
		"isolation": func(n *Notice) { n.Isolation = "" },
		"kind":      func(n *Notice) { n.Kind = "final" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			n := sampleNotice("ja")
			mutate(&n)
			if _, err := Render(n); err == nil {
				t.Fatal("Render accepted an invalid notice")
			}
			if s := RenderShort(n); !strings.Contains(s, "[bannin]") {
				t.Errorf("RenderShort fallback = %q", s)
			}
		})
	}
}

// TestRenderKinds: every kind of notice is worded in both languages, with
// its subject tag, opening sentence and short form, and the acknowledgement
// link in the text and HTML bodies when one is given.
func TestRenderKinds(t *testing.T) {
	due := time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC) // 10:30 in Tokyo
	tests := []struct {
		kind             Kind
		lang             string
		subject, opening string
		short            string
	}{
		{KindEscalation, "en", "[Escalation]", "Nobody has acknowledged incident INC-20260310-0007", "escalation: nobody has acknowledged"},
		{KindEscalation, "ja", "[エスカレーション]", "まだ確認されていないため、エスカレーション", "エスカレーションのご連絡です"},
		{KindSLOWarning, "en", "[SLO warning]", "The first response deadline of incident INC-20260310-0007 is approaching: 80% of the time allowed", "(80% used, due Mon, 7 Dec 2026 10:30 JST)"},
		{KindSLOWarning, "ja", "[SLO警告]", "1次レスポンスの期限が迫っています（許容時間の80%が経過", "1次レスポンスの期限が迫っています"},
		{KindSLOBreach, "en", "[SLO breach]", "The first response deadline of incident INC-20260310-0007 passed at Mon, 7 Dec 2026 10:30 JST", "has passed"},
		{KindSLOBreach, "ja", "[SLO違反]", "1次レスポンスの期限（", "期限（"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.lang, func(t *testing.T) {
			n := sampleNotice(tt.lang)
			n.Kind, n.Clock, n.Percent, n.Due = tt.kind, "first_response", 80, due
			n.AckURL = "https://soc.example/v1/ack?t=abc.def"
			m, err := Render(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ where, got, want string }{
				{"subject", m.Subject, tt.subject},
				{"text", m.Text, tt.opening},
				{"short", m.Short, tt.short},
				{"text", m.Text, n.AckURL},
				{"html", m.HTML, `href="https://soc.example/v1/ack?t=abc.def"`},
			} {
				if !strings.Contains(c.got, c.want) {
					t.Errorf("%s lacks %q:\n%s", c.where, c.want, c.got)
				}
			}
		})
	}
	n := sampleNotice("en")
	n.Kind = KindSLOWarning
	if _, err := Render(n); err == nil || !strings.Contains(err.Error(), "names its clock and due time") {
		t.Errorf("an SLO warning without its clock: err %v", err)
	}
	if m, _ := Render(sampleNotice("en")); strings.Contains(m.Text, "Acknowledge") {
		t.Error("a notice without an acknowledgement link has the section anyway")
	}
}
