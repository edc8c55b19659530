// Package public is the plain-HTTP listener relying parties use without
// credentials: CRLs (DER, at the URLs in certificates' CRL distribution
// points), CA certificates (the AIA caIssuers URL) and the OCSP responder
// (RFC 6960 over HTTP, GET and POST, with the RFC 5019 caching headers).
// It decodes requests and encodes answers; the ca service decides them.
package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Revocation is the domain API the listener serves (satisfied by
// *ca.Service).
type Revocation interface {
	CRL(ctx context.Context, caID string, partition int64) (*ca.CRLFile, error)
	CACertificateDER(ctx context.Context, caID string) ([]byte, error)
	OCSP(ctx context.Context, req *pki.OCSPRequest) (*ca.OCSPAnswer, error)
}

var _ Revocation = (*ca.Service)(nil)

// Options configure the handler.
type Options struct {
	// MaxAge bounds how long HTTP caches may keep an answer (the revocation
	// propagation bound).
	MaxAge time.Duration
	Clock  clock.Clock
	Logger *slog.Logger
	// Ready reports whether the node can serve (for /readyz).
	Ready func(context.Context) error
}

// Limits of OCSP requests.
const (
	maxOCSPBody = 16 << 10
	maxOCSPGET  = 4 << 10
)

// Handler serves the public listener.
type Handler struct {
	svc  Revocation
	opts Options
	log  *slog.Logger
}

// New returns the public handler.
func New(svc Revocation, opts Options) *Handler {
	if opts.MaxAge <= 0 {
		opts.MaxAge = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Handler{svc: svc, opts: opts, log: log}
}

// ServeHTTP routes by path. It does not use http.ServeMux, which would
// "clean" OCSP GET paths: base64 may contain "//".
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case path == "/healthz" && get:
		text(w, http.StatusOK, "ok")
	case path == "/readyz" && get:
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if h.opts.Ready != nil {
			if err := h.opts.Ready(ctx); err != nil {
				text(w, http.StatusServiceUnavailable, "store unreachable")
				return
			}
		}
		text(w, http.StatusOK, "ok")
	case strings.HasSuffix(path, ".crl"):
		if !get {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		h.serveCRL(w, r, path[strings.LastIndexByte(path, '/')+1:])
	case strings.HasPrefix(path, "/ca/") && strings.HasSuffix(path, ".crt"):
		if !get {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		h.serveCACert(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/ca/"), ".crt"))
	case r.Method == http.MethodPost && (path == "/" || path == "/ocsp" || path == "/ocsp/"):
		h.ocspPOST(w, r)
	case get && strings.HasPrefix(path, "/ocsp/") && len(path) > len("/ocsp/"):
		h.ocspGET(w, r, path[len("/ocsp/"):])
	case get && len(path) > 1 && !strings.Contains(path[1:], ".") && len(path) > 8:
		// An OCSP GET at the root, as with OcspCustomCname.
		h.ocspGET(w, r, path[1:])
	case path == "/" || path == "/ocsp":
		methodNotAllowed(w, "POST")
	default:
		text(w, http.StatusNotFound, "not found")
	}
}

func text(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	text(w, http.StatusMethodNotAllowed, "method not allowed")
}

func (h *Handler) maxAge(until time.Time) int {
	age := h.opts.MaxAge
	if left := until.Sub(h.opts.Clock.Now()); left < age {
		age = left
	}
	return max(int(age/time.Second), 0)
}

func (h *Handler) serveCRL(w http.ResponseWriter, r *http.Request, name string) {
	caID, partition, ok := ca.ParseCRLFileName(name)
	if !ok {
		text(w, http.StatusNotFound, "not found")
		return
	}
	f, err := h.svc.CRL(r.Context(), caID, partition)
	if errors.Is(err, store.ErrNotFound) {
		text(w, http.StatusNotFound, "no such CRL")
		return
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "serving a CRL failed", "ca", caID, "partition", partition, "err", err)
		text(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/pkix-crl")
	hd.Set("Cache-Control", fmt.Sprintf("public, max-age=%d, no-transform", h.maxAge(f.NextUpdate)))
	hd.Set("ETag", fmt.Sprintf(`"crl-%d"`, f.Number))
	hd.Set("Expires", f.NextUpdate.UTC().Format(http.TimeFormat))
	http.ServeContent(w, r, name, f.ThisUpdate, bytes.NewReader(f.DER))
}

func (h *Handler) serveCACert(w http.ResponseWriter, r *http.Request, caID string) {
	der, err := h.svc.CACertificateDER(r.Context(), caID)
	if errors.Is(err, store.ErrNotFound) {
		text(w, http.StatusNotFound, "no such CA certificate")
		return
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "serving a CA certificate failed", "ca", caID, "err", err)
		text(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, caID+".crt", time.Time{}, bytes.NewReader(der))
}

func (h *Handler) ocspPOST(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/ocsp-request") {
		text(w, http.StatusUnsupportedMediaType, "an OCSP request must be application/ocsp-request")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPBody))
	if err != nil {
		h.ocspError(w, r, pki.OCSPMalformedRequest)
		return
	}
	h.answer(w, r, body)
}

func (h *Handler) ocspGET(w http.ResponseWriter, r *http.Request, escaped string) {
	if len(escaped) > maxOCSPGET {
		h.ocspError(w, r, pki.OCSPMalformedRequest)
		return
	}
	b64, err := url.PathUnescape(escaped)
	if err != nil {
		h.ocspError(w, r, pki.OCSPMalformedRequest)
		return
	}
	der, err := decodeBase64(b64)
	if err != nil {
		h.ocspError(w, r, pki.OCSPMalformedRequest)
		return
	}
	h.answer(w, r, der)
}

// decodeBase64 accepts standard base64 (RFC 6960 A.1), padded or not, and
// the URL-safe alphabet some clients use.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request, der []byte) {
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		h.ocspError(w, r, pki.OCSPMalformedRequest)
		return
	}
	ans, err := h.svc.OCSP(r.Context(), req)
	switch {
	case errors.Is(err, ca.ErrOCSPUnauthorized):
		h.ocspError(w, r, pki.OCSPUnauthorized)
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "answering an OCSP request failed", "err", err)
		h.ocspError(w, r, pki.OCSPTryLater)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/ocsp-response")
	hd.Set("Last-Modified", ans.ThisUpdate.UTC().Format(http.TimeFormat))
	hd.Set("Expires", ans.NextUpdate.UTC().Format(http.TimeFormat))
	if ans.Fresh {
		hd.Set("Cache-Control", "no-store")
	} else {
		sum := sha256.Sum256(ans.DER)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		hd.Set("ETag", etag)
		hd.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", h.maxAge(ans.NextUpdate)))
		if r.Method != http.MethodPost && etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	// One write with a known length: the answer leaves in one segment.
	hd.Set("Content-Length", strconv.Itoa(len(ans.DER)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(ans.DER)
}

// etagMatch reports whether an If-None-Match header names etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func (h *Handler) ocspError(w http.ResponseWriter, r *http.Request, status int) {
	body := pki.OCSPErrorResponse(status)
	hd := w.Header()
	hd.Set("Content-Type", "application/ocsp-response")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
