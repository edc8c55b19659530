// Package objects is Sigil's stand-in for S3 buckets: a directory per
// bucket under one root, objects as files at their keys. Objects appear
// atomically (written to a temporary file, synced, renamed), so a reader
// never sees half an object and a failed write leaves the previous one.
package objects

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir stores objects under a root directory: <root>/<bucket>/<key>.
type Dir struct {
	root string
}

// New returns a store rooted at dir, creating it (0700) if needed.
func New(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("object store directory %s: %w", dir, err)
	}
	return &Dir{root: dir}, nil
}

// Root is the directory holding the buckets.
func (d *Dir) Root() string { return d.root }

// Path is where an object lives on disk; it refuses bucket names and keys
// that would leave the bucket's directory.
func (d *Dir) Path(bucket, key string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return "", fmt.Errorf("invalid bucket name %q", bucket)
	}
	if key == "" || strings.HasSuffix(key, "/") || !filepath.IsLocal(filepath.FromSlash(key)) {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(d.root, bucket, filepath.FromSlash(key)), nil
}

// Put stores an object, replacing any previous one atomically.
func (d *Dir) Put(ctx context.Context, bucket, key string, data []byte) error {
	w, err := d.Create(ctx, bucket, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Create starts an object written in pieces.
func (d *Dir) Create(ctx context.Context, bucket, key string) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := d.Path(bucket, key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create bucket directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create object: %w", err)
	}
	return &Writer{f: f, path: path}, nil
}

// Writer writes one object; it appears when Commit succeeds.
type Writer struct {
	f    *os.File
	path string
	done bool
}

// Write appends to the object.
func (w *Writer) Write(p []byte) (int, error) { return w.f.Write(p) }

// Commit makes the object visible, replacing any previous one.
func (w *Writer) Commit() error {
	if w.done {
		return errors.New("object already committed or aborted")
	}
	w.done = true
	err := w.f.Chmod(0o644)
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("write object %s: %w", w.path, err)
	}
	return nil
}

// Abort discards the object; the previous one, if any, stays.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}
