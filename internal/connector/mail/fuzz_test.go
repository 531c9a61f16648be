package mail

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
)

// FuzzDecode: no input makes the decoder panic, and every failure is
// ErrBadPayload.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// One envelope seed: the fuzzer's minimiser is slow on large inputs,
	// and the envelope's base64 makes every mail a third larger.
	f.Add([]byte(`{"received":"2026-10-20T05:05:41Z","peer":"192.0.2.1:2525","mail_from":"a@b","rcpt":"c@d","message":"` +
		base64.StdEncoding.EncodeToString([]byte("From: av@x.example\nSubject: s\n\nComputer: PC1\nVirus: EICAR\nAction: Quarantined\n")) + `"}`))
	for _, s := range []string{
		"",
		"Subject: x\n\n",
		"From: a@b\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n",
		"From: a@b\nContent-Type: application/xml\n\n<alerts><alert id=\"1\" severity=\"majr\"><src><ip>1.2.3.4</ip></src></alert></alerts>",
		"From: a@b\n\nalert (id:1, name:x):\n  src:\n    ip: 1.2.3.4\n",
		"From: a@b\nContent-Type: text/html\n\n<table><tr><td>Computer</td><td>PC</td></tr><tr><td>Virus</td><td>V</td></tr></table>",
		"From: a@b\nSubject: =?ISO-2022-JP?B?GyRCJSYlJCVrJTkbKEI=?=\n\n【ウイルス名】X\n",
		`{"message":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		alerts, err := Decoder{}.Decode(payload)
		if err != nil {
			if !errors.Is(err, connector.ErrBadPayload) {
				t.Fatalf("error is not ErrBadPayload: %v", err)
			}
			return
		}
		if len(alerts) == 0 {
			t.Fatal("a mail decoded to no alert")
		}
	})
}
