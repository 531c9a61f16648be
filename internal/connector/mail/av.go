package mail

import (
	"net"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/connector/jsonfield"
)

// Fields read from labelled lines of anti-virus alert mails.
const (
	fHost   = "host"
	fIP     = "ip"
	fUser   = "user"
	fVirus  = "virus"
	fFile   = "file"
	fAction = "action"
	fTime   = "time"
	fHash   = "hash"
)

// labels maps each field to the labels AV products put before it, in
// English and Japanese (Trend Micro Apex One / ウイルスバスター Corp.,
// Symantec Endpoint Protection, ESET and look-alikes). Labels are compared
// folded by labelKey.
var labels = map[string][]string{
	fHost: {"computer", "computer name", "computername", "host", "host name", "hostname", "endpoint", "endpoint name",
		"device", "device name", "machine", "machine name", "client", "client name",
		"コンピュータ", "コンピュータ名", "コンピューター", "コンピューター名", "ホスト名", "ホスト", "端末名", "端末",
		"マシン名", "クライアント", "クライアント名", "デバイス名"},
	fIP: {"ip", "ip address", "ipaddress", "ip addresses", "ipアドレス", "ip address(es)", "client ip", "source ip"},
	fUser: {"user", "user name", "username", "logged on user", "logon user", "domain\\user",
		"ユーザ", "ユーザー", "ユーザ名", "ユーザー名", "ログオンユーザ", "ログオンユーザー", "ログオンユーザ名", "ログオンユーザー名"},
	fVirus: {"virus", "virus name", "virus/malware", "virus/malware name", "malware", "malware name", "threat", "threat name",
		"risk", "risk name", "security risk", "security risk name", "detection", "detection name", "spyware/grayware",
		"ウイルス", "ウイルス名", "ウイルス/不正プログラム", "ウイルス/不正プログラム名", "不正プログラム", "不正プログラム名",
		"脅威", "脅威名", "検出名", "リスク名", "セキュリティリスク", "セキュリティリスク名", "マルウェア名", "検出されたウイルス"},
	fFile: {"file", "file name", "filename", "file path", "path", "infected file", "object", "infected object",
		"ファイル", "ファイル名", "ファイルパス", "パス", "感染ファイル", "オブジェクト", "検出ファイル"},
	fAction: {"action", "action taken", "actions taken", "result", "action result", "action performed", "first action", "second action",
		"処理結果", "結果", "処理", "対処", "実行された処理", "実行したアクション", "アクション", "対処結果", "駆除結果"},
	fTime: {"date/time", "date", "time", "detected", "detection time", "detected on", "event time", "occurred",
		"日時", "検出日時", "発生日時", "日付", "時刻", "検出時刻", "検出日", "発生時刻"},
	fHash: {"sha1", "sha-1", "sha256", "sha-256", "md5", "hash", "ハッシュ", "ハッシュ値"},
}

var labelIndex = func() map[string]string {
	idx := map[string]string{}
	for f, ls := range labels {
		for _, l := range ls {
			idx[labelKey(l)] = f
		}
	}
	return idx
}()

// labelKey folds a label: lower case, no white space, no bullets, brackets
// or decoration around it.
func labelKey(s string) string {
	s = strings.ToLower(s)
	s = strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("■□・●○◆◇▼▽*-•>［］[]【】「」<>()（）#:：", r)
	})
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// labelled reads "label: value" lines (":" or full-width "：", a tab from an
// HTML table cell, or "【label】value") from the texts. The first value of
// each field wins: a mail that lists several detections is read as its
// first.
func labelled(texts []string) map[string]string {
	out := map[string]string{}
	for _, t := range texts {
		for _, line := range strings.Split(t, "\n") {
			label, value, ok := splitLabel(line)
			if !ok {
				continue
			}
			f, known := labelIndex[labelKey(label)]
			if !known {
				continue
			}
			if _, seen := out[f]; !seen {
				out[f] = value
			}
		}
	}
	return out
}

func splitLabel(line string) (label, value string, ok bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "【") {
		if l, v, found := strings.Cut(strings.TrimPrefix(line, "【"), "】"); found {
			return l, cleanValue(v), cleanValue(v) != ""
		}
	}
	i := strings.IndexAny(line, ":：\t")
	if i <= 0 || i > 64 {
		return "", "", false
	}
	_, size := utf8.DecodeRuneInString(line[i:])
	v := cleanValue(line[i+size:])
	return line[:i], v, v != ""
}

func cleanValue(v string) string {
	v = strings.TrimLeft(v, " \t:：")
	return cleanLine(v)
}

// avProducts recognises the sending product from the From address, the
// Subject and the body.
var avProducts = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`(?i)apex\s*one|officescan|trend\s*micro|virus\s*buster|ウイルスバスター|トレンドマイクロ`), "Trend Micro"},
	{regexp.MustCompile(`(?i)symantec|endpoint protection manager|\bSEPM?\b`), "Symantec Endpoint Protection"},
	{regexp.MustCompile(`(?i)\beset\b`), "ESET"},
	{regexp.MustCompile(`(?i)mcafee|trellix|epolicy`), "McAfee / Trellix"},
	{regexp.MustCompile(`(?i)sophos`), "Sophos"},
}

func avProduct(m *mailMessage) string {
	hay := m.From + "\n" + m.Subject + "\n" + strings.Join(m.Texts, "\n")
	for _, p := range avProducts {
		if p.re.MatchString(hay) {
			return p.name
		}
	}
	return "anti-virus mail"
}

// Scores of anti-virus mails: the product already dealt with the file, or
// it did not (or did not say).
const (
	avMitigatedScore = 40
	avOpenScore      = 70
)

var (
	reActionFailed = regexp.MustCompile(`(?i)fail|unable|could ?not|cannot|can't|not (cleaned|deleted|quarantined|removed)|left alone|no action|pass(ed)?\b|allowed|失敗|できません|できな|不可|放置|処理なし|未処理|未対応|未駆除|許可`)
	reActionKilled = regexp.MustCompile(`(?i)terminat|kill|プロセス.*終了|停止`)
	reActionBlock  = regexp.MustCompile(`(?i)block|denied|deny|ブロック|拒否|遮断`)
	reActionQuar   = regexp.MustCompile(`(?i)quarantin|clean|delet|remov|repair|隔離|駆除|削除|修復|除去`)
)

// avAction maps what the product says it did onto alert.Action.
func avAction(s string) alert.Action {
	switch {
	case s == "" || reActionFailed.MatchString(s):
		return alert.ActionNone
	case reActionKilled.MatchString(s):
		return alert.ActionKilled
	case reActionBlock.MatchString(s):
		return alert.ActionBlocked
	case reActionQuar.MatchString(s):
		return alert.ActionQuarantined
	}
	return alert.ActionNone
}

// decodeAV builds the alert of an anti-virus mail from its labelled lines;
// it reports false when no virus name is labelled.
func decodeAV(m *mailMessage, f map[string]string, loc *time.Location) (alert.Alert, bool) {
	virus := f[fVirus]
	if virus == "" {
		return alert.Alert{}, false
	}
	a := alert.Alert{
		Vendor:         VendorName,
		Rule:           "av:" + virus,
		Product:        avProduct(m),
		Description:    m.Subject,
		EventTime:      avTime(f[fTime], loc),
		VendorSeverity: f[fAction],
		Action:         avAction(f[fAction]),
		Score:          avOpenScore,
	}
	if a.Action.Mitigated() {
		a.Score = avMitigatedScore
	}
	fillHost(&a, f)
	a.Title = virus
	if a.Host.Name != "" {
		a.Title += " on " + a.Host.Name
	}
	if p := f[fFile]; p != "" {
		a.Process.Path = p
		a.Process.Name = path.Base(strings.ReplaceAll(p, `\`, "/"))
	}
	setHash(&a.Process, f[fHash])
	return a, true
}

// fillHost sets the host, its address and the user from labelled lines.
func fillHost(a *alert.Alert, f map[string]string) {
	a.Host.Name = firstField(f[fHost])
	if ip := firstField(f[fIP]); net.ParseIP(ip) != nil {
		a.Host.IPs = []string{ip}
	}
	a.User = f[fUser]
}

// firstField keeps the first word of a value ("PC01 (10.0.0.5)" → "PC01").
func firstField(s string) string {
	if fs := strings.Fields(strings.NewReplacer("(", " ", "（", " ", ",", " ", "、", " ").Replace(s)); len(fs) > 0 {
		return fs[0]
	}
	return ""
}

var reHex = regexp.MustCompile(`\b[0-9a-fA-F]{32,64}\b`)

func setHash(p *alert.Process, s string) {
	h := strings.ToLower(reHex.FindString(s))
	switch len(h) {
	case 32:
		p.MD5 = h
	case 40:
		p.SHA1 = h
	case 64:
		p.SHA256 = h
	}
}

// avTimeLayouts are the date forms AV mails use. Most carry no zone; they
// are read in the zone of the mail's Date header (the product's server
// wrote both).
var avTimeLayouts = []string{
	"2006/01/02 15:04:05", "2006/1/2 15:04:05", "2006/01/02 15:04", "2006/1/2 15:04",
	"2006-01-02 15:04:05", "2006-01-02 15:04",
	"2006年1月2日 15時04分05秒", "2006年1月2日 15:04:05", "2006年01月02日 15:04:05", "2006年1月2日 15:04",
	"01/02/2006 15:04:05", "1/2/2006 3:04:05 PM", "1/2/2006 15:04:05", "01/02/2006 03:04:05 PM",
	"Jan 2, 2006 15:04:05", "Jan 2, 2006 3:04:05 PM", "January 2, 2006 3:04:05 PM",
	time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700",
}

func avTime(s string, loc *time.Location) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t := jsonfield.ParseTime(s); !t.IsZero() && strings.ContainsAny(s, "TZ+") {
		return t
	}
	for _, l := range avTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil && t.Year() >= 1970 && t.Year() <= 9999 {
			return t.UTC()
		}
	}
	return time.Time{}
}
