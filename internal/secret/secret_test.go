package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newBox(t *testing.T) *Box {
	t.Helper()
	b, err := NewBox(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t)
	for _, plain := range [][]byte{[]byte("falcon client secret"), {}, bytes.Repeat([]byte{0}, 1000)} {
		sealed, err := b.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") || (len(plain) > 0 && strings.Contains(sealed, string(plain))) {
			t.Errorf("sealed = %q", sealed)
		}
		got, err := b.Open(sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	one, _ := b.Seal([]byte("x"))
	two, _ := b.Seal([]byte("x"))
	if one == two {
		t.Error("two seals of one value are equal: nonce reused")
	}
}

func TestOpenRejects(t *testing.T) {
	b := newBox(t)
	sealed, err := b.Seal([]byte("webhook secret"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 1
		return "v1:" + base64.StdEncoding.EncodeToString(c)
	}
	other, err := NewBox(bytes.Repeat([]byte{8}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
		box            *Box
	}{
		{"nonce flipped", flip(0), "altered", b},
		{"ciphertext flipped", flip(len(raw) / 2), "altered", b},
		{"tag flipped", flip(len(raw) - 1), "altered", b},
		{"truncated", "v1:" + base64.StdEncoding.EncodeToString(raw[:10]), "too short", b},
		{"no prefix", strings.TrimPrefix(sealed, "v1:"), "v1: prefix", b},
		{"other version", "v2:" + strings.TrimPrefix(sealed, "v1:"), "v1: prefix", b},
		{"bad base64", "v1:!!!", "bad base64", b},
		{"other key", sealed, "altered", other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Errorf("Open = %q, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

func TestNewBoxKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewBox(make([]byte, n)); err == nil {
			t.Errorf("NewBox with %d bytes succeeded", n)
		}
	}
}

func TestLoadKeyCreatesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadKey(path) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || len(keys[i]) != KeySize || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("LoadKey %d = %x, %v; want the same key everywhere", i, keys[i], errs[i])
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	again, err := LoadKey(path)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Errorf("second LoadKey = %x, %v", again, err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".secret-key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestLoadKeyRejectsBadFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"short": base64.StdEncoding.EncodeToString([]byte("short")), "text": "not base64 at all"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadKey(%s) = %v, want an error naming the file", name, err)
		}
	}
}

func TestKeyFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{9}, KeySize)
	t.Setenv(EnvKey, base64.StdEncoding.EncodeToString(key)+"\n")
	got, err := KeyFromEnv()
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("KeyFromEnv = %x, %v", got, err)
	}
	path := filepath.Join(t.TempDir(), "unused.key")
	if got, err := ResolveKey(path); err != nil || !bytes.Equal(got, key) {
		t.Errorf("ResolveKey with env = %x, %v", got, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("ResolveKey created a key file although the env held a key")
	}

	t.Setenv(EnvKey, "c2hvcnQ=")
	if _, err := KeyFromEnv(); err == nil || errors.Is(err, ErrNoEnvKey) || !strings.Contains(err.Error(), EnvKey) {
		t.Errorf("short env key: %v", err)
	}
	t.Setenv(EnvKey, "")
	if _, err := KeyFromEnv(); !errors.Is(err, ErrNoEnvKey) {
		t.Errorf("empty env: %v, want ErrNoEnvKey", err)
	}
	if got, err := ResolveKey(path); err != nil || len(got) != KeySize {
		t.Errorf("ResolveKey without env = %x, %v", got, err)
	}
}
