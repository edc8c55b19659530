package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StoreURL() != "sqlite:sigil-data/sigil.db" {
		t.Fatalf("store URL %q", c.StoreURL())
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sigil.yaml")
	os.WriteFile(file, []byte("data_dir: /from/file\nlisten: 127.0.0.1:9000\nregion: eu-west-1\nlog:\n  level: debug\n"), 0o600)
	c, err := Load(file, env(map[string]string{"SIGIL_LISTEN": "127.0.0.1:9100", "SIGIL_DEV": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/file" || c.Listen != "127.0.0.1:9100" || c.Region != "eu-west-1" || !c.Dev || c.Log.Level != "debug" {
		t.Fatalf("%+v", c)
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sigil.yaml")
	os.WriteFile(file, []byte("lisen: 127.0.0.1:1\n"), 0o600)
	if _, err := Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("typo in config accepted: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Load(empty, env(nil)); err != nil {
		t.Fatalf("empty config file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]func(*Config){
		"dev on all interfaces": func(c *Config) { c.Dev = true; c.Listen = "0.0.0.0:8443" },
		"bad listen":            func(c *Config) { c.Listen = "nope" },
		"same listeners":        func(c *Config) { c.PublicListen = c.Listen },
		"bad region":            func(c *Config) { c.Region = "mars" },
		"bad store":             func(c *Config) { c.Store = "mysql://x" },
		"bad log level":         func(c *Config) { c.Log.Level = "loud" },
		"cert without key":      func(c *Config) { c.TLS.CertFile = "x.pem" },
		"negative limit":        func(c *Config) { c.Limits.CAsPerAccount = -1 },
		"public url scheme":     func(c *Config) { c.PublicURL = "ftp://pki.example.com" },
		"public url query":      func(c *Config) { c.PublicURL = "http://pki.example.com/?x=1" },
		"public url host":       func(c *Config) { c.PublicURL = "pki.example.com" },
		"propagation too short": func(c *Config) { c.Revocation.Propagation = time.Millisecond },
		"ocsp validity":         func(c *Config) { c.Revocation.OCSPValidity = 30 * 24 * time.Hour },
		"ocsp signer":           func(c *Config) { c.Revocation.OCSPSigner = "hsm" },
		"partition size":        func(c *Config) { c.Revocation.CRLPartitionSize = -5 },
	}
	for name, mod := range cases {
		c := Default()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := Default()
	c.Dev, c.Listen, c.PublicListen = true, "[::1]:0", "localhost:0"
	if err := c.Validate(); err != nil {
		t.Errorf("loopback dev config refused: %v", err)
	}
	c = Default()
	c.PublicURL, c.Revocation = "https://pki.example.com/base", RevocationConfig{Propagation: 2 * time.Second,
		CRLPartitionSize: 1000, OCSPValidity: 4 * time.Hour, OCSPSigner: "ca"}
	if err := c.Validate(); err != nil {
		t.Errorf("revocation settings refused: %v", err)
	}
	if c.ObjectsPath() != filepath.Join(DefaultDataDir, "objects") {
		t.Errorf("objects path %s", c.ObjectsPath())
	}
	if _, err := Load("", env(map[string]string{"SIGIL_DEV": "maybe"})); err == nil {
		t.Error("SIGIL_DEV=maybe accepted")
	}
}
