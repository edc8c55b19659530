package seal

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Streams seal data too large for one Seal call (backups): a fresh data key
// wrapped by the master key, then the data in chunks of up to 64 KiB, each
// an AES-256-GCM message whose nonce is its sequence number and whose
// associated data binds the stream header, the caller's context and a
// final-chunk flag. Chunks cannot be reordered, dropped or appended, and a
// truncated stream fails to read.
//
//	magic "SIGILSTR" | version | key id (8) | wrap nonce (12) | wrapped key (48)
//	then chunks:  flag (1: 0 more, 1 final) | length (4) | ciphertext

const (
	streamMagic   = "SIGILSTR"
	streamVersion = 1
	chunkSize     = 64 << 10
)

// ErrStream reports a stream that cannot be opened or has been altered.
var ErrStream = errors.New("seal: the sealed stream is corrupted, truncated, or sealed under another master key or context")

type streamWriter struct {
	w       *bufio.Writer
	aead    cipher.AEAD
	header  []byte
	context []byte
	buf     []byte
	seq     uint64
	closed  bool
}

// NewWriter returns a writer that seals everything written to it into w
// under the keyring's current master key. Close must be called to write the
// final chunk; it does not close w.
func (k *Keyring) NewWriter(w io.Writer, context []byte) (io.WriteCloser, error) {
	dek := make([]byte, dekLen)
	if _, err := io.ReadFull(rand.Reader, dek); err != nil {
		return nil, err
	}
	defer clear(dek)
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	header := []byte(streamMagic)
	header = append(header, streamVersion)
	header = append(header, k.current.id[:]...)
	wrapNonce, err := nonce()
	if err != nil {
		return nil, err
	}
	header = append(header, wrapNonce...)
	header = k.current.aead.Seal(header, wrapNonce, dek, aad(header[:len(streamMagic)+1+keyIDLen], context))
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(header); err != nil {
		return nil, err
	}
	return &streamWriter{w: bw, aead: aead, header: header, context: context, buf: make([]byte, 0, chunkSize)}, nil
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("seal: write after close")
	}
	n := 0
	for len(p) > 0 {
		take := min(chunkSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:take]...)
		p, n = p[take:], n+take
		if len(s.buf) == chunkSize {
			if err := s.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (s *streamWriter) flush(final bool) error {
	flag := byte(0)
	if final {
		flag = 1
	}
	ct := s.aead.Seal(nil, seqNonce(s.seq), s.buf, chunkAAD(s.header, s.context, s.seq, flag))
	s.seq++
	var hdr [5]byte
	hdr[0] = flag
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(ct)))
	if _, err := s.w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := s.w.Write(ct); err != nil {
		return err
	}
	s.buf = s.buf[:0]
	return nil
}

// Close writes the final chunk and flushes.
func (s *streamWriter) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.flush(true); err != nil {
		return err
	}
	return s.w.Flush()
}

type streamReader struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	header  []byte
	context []byte
	seq     uint64
	plain   []byte
	done    bool
}

// NewReader opens a stream written by NewWriter with the same context.
func (k *Keyring) NewReader(r io.Reader, context []byte) (io.Reader, error) {
	br := bufio.NewReader(r)
	fixed := len(streamMagic) + 1 + keyIDLen
	header := make([]byte, fixed+nonceLen+dekLen+tagLen)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, ErrStream
	}
	if string(header[:len(streamMagic)]) != streamMagic || header[len(streamMagic)] != streamVersion {
		return nil, fmt.Errorf("seal: not a Sigil sealed stream")
	}
	var id [keyIDLen]byte
	copy(id[:], header[len(streamMagic)+1:fixed])
	mk, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("seal: the stream was sealed under master key %x, which is not loaded", id)
	}
	dek, err := mk.aead.Open(nil, header[fixed:fixed+nonceLen], header[fixed+nonceLen:], aad(header[:fixed], context))
	if err != nil {
		return nil, ErrStream
	}
	defer clear(dek)
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return &streamReader{r: br, aead: aead, header: header, context: context}, nil
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.done {
			return 0, io.EOF
		}
		var hdr [5]byte
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return 0, ErrStream // truncated: the final chunk never came
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if hdr[0] > 1 || n > chunkSize+tagLen {
			return 0, ErrStream
		}
		ct := make([]byte, n)
		if _, err := io.ReadFull(s.r, ct); err != nil {
			return 0, ErrStream
		}
		pt, err := s.aead.Open(nil, seqNonce(s.seq), ct, chunkAAD(s.header, s.context, s.seq, hdr[0]))
		if err != nil {
			return 0, ErrStream
		}
		s.seq++
		s.plain = pt
		if hdr[0] == 1 {
			s.done = true
			if _, err := s.r.ReadByte(); err != io.EOF {
				return 0, ErrStream // data after the final chunk
			}
		}
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

func seqNonce(seq uint64) []byte {
	n := make([]byte, nonceLen)
	binary.BigEndian.PutUint64(n[nonceLen-8:], seq)
	return n
}

func chunkAAD(header, context []byte, seq uint64, flag byte) []byte {
	a := aad(header, context)
	var b [9]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	b[8] = flag
	return append(a, b[:]...)
}
