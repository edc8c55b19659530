package objects_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sigilhq/sigil/internal/objects"
)

func TestPutReplaceAndAbort(t *testing.T) {
	d, err := objects.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := d.Put(ctx, "bucket", "crl/a.crl", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "bucket", "crl/a.crl", []byte("two")); err != nil {
		t.Fatal(err)
	}
	path, _ := d.Path("bucket", "crl/a.crl")
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("object holds %q", b)
	}
	// An aborted write leaves the previous object and no temporary file.
	w, err := d.Create(ctx, "bucket", "crl/a.crl")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	w.Abort()
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("abort changed the object: %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestRefusesEscapes(t *testing.T) {
	d, _ := objects.New(t.TempDir())
	for _, c := range [][2]string{{"..", "x"}, {"a/b", "x"}, {"b", "../x"}, {"b", "/etc/passwd"}, {"b", "a/../../x"}, {"b", ""}, {"b", "dir/"}} {
		if err := d.Put(t.Context(), c[0], c[1], []byte("x")); err == nil {
			t.Errorf("accepted bucket %q key %q", c[0], c[1])
		}
	}
}
