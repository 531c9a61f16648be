package demo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	cs "github.com/bannin-soc/bannin/internal/connector/crowdstrike"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Hashes of the story's programs.
const (
	mimikatzSHA = "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1"
	lockerSHA   = "0d6a4c1fd3b7a2e9c8f5b6a7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b"
	pupSHA      = "faf0c5e4ef7dbcfd863377c55a4d1d87a3f6a58c13a8a9882e11012066f31976"
)

// step is one scene of the story.
type step struct {
	title string
	run   func(ctx context.Context, d *Demo) error
}

func (d *Demo) story() []step {
	inject := func(payloads ...[]byte) error {
		d.expected += len(payloads)
		return d.Sim.Inject(payloads...)
	}
	return []step{
		{"ノイズ / noise: the same adware detection on six PCs (pulled from the Falcon API)", func(ctx context.Context, d *Demo) error {
			var ps [][]byte
			for i := 1; i <= 6; i++ {
				ps = append(ps, cs.NewAlert(fmt.Sprintf("pc-%03d", 100+i), fmt.Sprintf("aid0000000000000000000000000%04d", 100+i),
					cs.AlertSeverity(30), cs.AlertPattern(10101, "NGAV"), named("Adware/PUP blocked"),
					cs.AlertProcess("rfusclient.exe", `\Device\HarddiskVolume2\Program Files\Remote Utilities\rfusclient.exe`,
						`"C:\Program Files\Remote Utilities\rfusclient.exe" /rsession`, pupSHA),
					cs.AlertTechnique("CSTA0004", "Malware", "CST0007", "Adware/PUP"), cs.AlertDisposition(alert.ActionBlocked)))
			}
			return inject(ps...)
		}},
		{"許可リスト / allowlisted: the backup agent reads every file on srv-backup01", func(ctx context.Context, d *Demo) error {
			return inject(cs.NewAlert("srv-backup01", "aid00000000000000000000000000b01", cs.AlertSeverity(70),
				cs.AlertRole("Server"), cs.AlertPattern(20202, "SuspiciousFileAccess"), named("Mass file access"),
				cs.AlertProcess("AcmeBackup.exe", `\Device\HarddiskVolume1\Program Files\Acme\AcmeBackup.exe`,
					`"C:\Program Files\Acme\AcmeBackup.exe" --full`, strings.Repeat("ab", 32)),
				cs.AlertTechnique("TA0009", "Collection", "T1005", "Data from Local System")))
		}},
		{"ランサムウェア / ransomware: shadow copies deleted, then files encrypted on fs01 (a critical server)", func(ctx context.Context, d *Demo) error {
			return inject(
				cs.NewAlert("fs01", "aid00000000000000000000000000f01", cs.AlertSeverity(80), cs.AlertRole("Server"),
					cs.AlertPattern(30303, "ShadowCopyDeletion"), named("Shadow copies deleted"), cs.AlertUser("HOKUTO\\svc-scan"),
					cs.AlertProcess("vssadmin.exe", `\Device\HarddiskVolume1\Windows\System32\vssadmin.exe`,
						`vssadmin.exe delete shadows /all /quiet`, strings.Repeat("cd", 32)),
					cs.AlertTechnique("TA0040", "Impact", "T1490", "Inhibit System Recovery")),
				cs.NewAlert("fs01", "aid00000000000000000000000000f01", cs.AlertSeverity(95), cs.AlertRole("Server"),
					cs.AlertPattern(30304, "RansomwareFileEncryption"), named("Ransomware encrypting files"), cs.AlertUser("HOKUTO\\svc-scan"),
					cs.AlertProcess("locker.exe", `\Device\HarddiskVolume1\Users\Public\locker.exe`, `C:\Users\Public\locker.exe -e D:\share`, lockerSHA),
					cs.AlertTechnique("TA0040", "Impact", "T1486", "Data Encrypted for Impact")))
		}},
		{"認証情報窃取と横展開 / credential theft spreading from pc-201 to pc-202 and pc-203", func(ctx context.Context, d *Demo) error {
			mk := func(host, aid, tech, name string, sev int) []byte {
				d.Sim.AddDevice(aid, host) // Falcon knows every sensor, also those whose alerts arrive by webhook
				return cs.NewAlert(host, aid, cs.AlertSeverity(sev), cs.AlertPattern(40404, "CredentialDumping"),
					named("Credential dumping tool"), cs.AlertCompositeID("demo:ind:"+host+":"+tech),
					cs.AlertUser("HOKUTO\\k.tanaka"),
					cs.AlertProcess("mssecsvc.exe", `\Device\HarddiskVolume2\Users\Public\mssecsvc.exe`, `C:\Users\Public\mssecsvc.exe privilege::debug sekurlsa::logonpasswords`, mimikatzSHA),
					cs.AlertTechnique("TA0006", "Credential Access", tech, name))
			}
			if err := inject(mk("pc-201", "aid00000000000000000000000000201", "T1003.001", "LSASS Memory", 75)); err != nil {
				return err
			}
			if err := d.waitIdle(ctx); err != nil {
				return err
			}
			// The spread arrives by the webhook, as a forwarder would push it.
			return d.webhook(ctx, mk("pc-202", "aid00000000000000000000000000202", "T1570", "Lateral Tool Transfer", 70),
				mk("pc-203", "aid00000000000000000000000000203", "T1021.002", "SMB/Windows Admin Shares", 70))
		}},
		{"重複 / duplicates: the same alert pushed again, and the same event detected again", func(ctx context.Context, d *Demo) error {
			again := cs.NewAlert("pc-201", "aid00000000000000000000000000201", cs.AlertSeverity(75), cs.AlertPattern(40404, "CredentialDumping"),
				named("Credential dumping tool"),
				cs.AlertUser("HOKUTO\\k.tanaka"),
				cs.AlertProcess("mssecsvc.exe", `\Device\HarddiskVolume2\Users\Public\mssecsvc.exe`, `C:\Users\Public\mssecsvc.exe privilege::debug sekurlsa::logonpasswords`, mimikatzSHA),
				cs.AlertTechnique("TA0006", "Credential Access", "T1003.001", "LSASS Memory"), cs.AlertCompositeID("demo:ind:pc-201:repeat"))
			if err := d.webhook(ctx, again); err != nil {
				return err
			}
			return d.webhook(ctx, again) // the very same alert id once more
		}},
	}
}

// waitIdle waits until bannin has triaged everything and run every job.
func (d *Demo) waitIdle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// The poller picks injected alerts up within its interval: wait until
	// the inbox holds every payload sent so far, then for the pipeline.
	for {
		counts, err := d.App.DB.InboxCounts(ctx, "hokuto")
		if err != nil {
			return err
		}
		n := 0
		for _, c := range counts {
			n += c
		}
		if n >= d.expected {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d payloads arrived: %w", n, d.expected, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return d.App.Quiesce(ctx)
}

func named(title string) cs.AlertOption { return cs.AlertField("display_name", title) }
