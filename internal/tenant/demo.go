package tenant

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed demo/tenant.yaml
var demoTenant []byte

// DemoWebhookSecretFile is the secret file the demo tenant's falcon source
// names, relative to the tenant file.
const DemoWebhookSecretFile = "falcon.hook"

// Demo returns the demo tenant file (北斗精機, CrowdStrike source "falcon").
// It names DemoWebhookSecretFile, which WriteDemo creates.
func Demo() []byte { return append([]byte(nil), demoTenant...) }

// WriteDemo writes the demo tenant file to dir/tenant.yaml and, when missing,
// a random webhook secret to dir/falcon.hook (mode 0600), and returns the
// tenant file's path for Load.
func WriteDemo(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write demo tenant: %w", err)
	}
	p := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(p, demoTenant, 0o644); err != nil {
		return "", fmt.Errorf("write demo tenant: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("write demo webhook secret: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, DemoWebhookSecretFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return p, nil // keep the secret senders already use
	}
	if err != nil {
		return "", fmt.Errorf("write demo webhook secret: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(b) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write demo webhook secret: %w", err)
	}
	return p, nil
}
