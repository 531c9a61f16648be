// Package secret keeps secrets bannin must store (vendor API credentials,
// webhook secrets) encrypted at rest with AES-256-GCM under one key, which
// lives in a 0600 file or in the BANNIN_SECRET_KEY environment variable.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// EnvKey is the environment variable KeyFromEnv reads: the key in base64.
const EnvKey = "BANNIN_SECRET_KEY"

// prefix marks the sealed format, so that a later format can be told apart
// and old values still opened.
const prefix = "v1:"

// ErrNoEnvKey is returned by KeyFromEnv when BANNIN_SECRET_KEY is not set.
var ErrNoEnvKey = errors.New(EnvKey + " is not set")

// Box seals and opens secrets under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key has %d bytes: want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce and returns
// "v1:" + base64(nonce ‖ ciphertext ‖ tag), safe to store as text.
func (b *Box) Seal(plaintext []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(prefix))
	return prefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal. A value that was altered, or sealed
// under another key, is an error; the error never contains the value.
func (b *Box) Open(sealed string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, errors.New("open secret: not a sealed value (want the v1: prefix)")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("open secret: bad base64")
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, errors.New("open secret: value too short")
	}
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(prefix))
	if err != nil {
		return nil, errors.New("open secret: altered, or sealed under another key")
	}
	return plain, nil
}

// LoadKey reads the base64 key in path. When the file does not exist it
// creates one with a random key, mode 0600 (and its directory, 0700). Two
// processes starting together end up with the same key.
func LoadKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readKey(path)
}

// KeyFromEnv returns the key in BANNIN_SECRET_KEY (base64), or ErrNoEnvKey.
func KeyFromEnv() ([]byte, error) {
	v, ok := os.LookupEnv(EnvKey)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, ErrNoEnvKey
	}
	key, err := decodeKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKey, err)
	}
	return key, nil
}

// ResolveKey returns the key from BANNIN_SECRET_KEY when set, else from
// the key file at path (created when missing).
func ResolveKey(path string) ([]byte, error) {
	key, err := KeyFromEnv()
	if errors.Is(err, ErrNoEnvKey) {
		return LoadKey(path)
	}
	return key, err
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("key has %d bytes: want %d", len(key), KeySize)
	}
	return key, nil
}

// createKey writes a new key to a temporary file and links it into place, so
// that no reader ever sees a partial key and an existing key is never
// replaced (the link fails with fs.ErrExist).
func createKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("create secret key: %w", err)
	}
	return nil
}
