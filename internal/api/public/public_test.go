package public_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/api/public"
	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

const caID = "0b7f6f4e-2d7a-4c4e-9f44-3c2f4f0d2a11"

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fake answers from fixed data and records what it was asked.
type fake struct {
	crlAsked  []int64
	ocspAsked []*pki.OCSPRequest
	ocspErr   error
}

func (f *fake) CRL(_ context.Context, id string, partition int64) (*ca.CRLFile, error) {
	f.crlAsked = append(f.crlAsked, partition)
	if id != caID || partition > 3 {
		return nil, store.ErrNotFound
	}
	return &ca.CRLFile{DER: []byte{0x30, 0x00}, Number: 7, ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour)}, nil
}

func (f *fake) CACertificateDER(_ context.Context, id string) ([]byte, error) {
	if id != caID {
		return nil, store.ErrNotFound
	}
	return []byte{0x30, 0x01, 0x00}, nil
}

func (f *fake) OCSP(_ context.Context, req *pki.OCSPRequest) (*ca.OCSPAnswer, error) {
	f.ocspAsked = append(f.ocspAsked, req)
	if f.ocspErr != nil {
		return nil, f.ocspErr
	}
	return &ca.OCSPAnswer{DER: []byte{0x30, 0x03, 0x0a, 0x01, 0x00}, ThisUpdate: now, NextUpdate: now.Add(time.Hour), Fresh: req.Nonce != nil}, nil
}

// request builds a DER OCSP request for serial 5 with SHA-1 hashes.
func request() []byte {
	h := make([]byte, 20)
	// OCSPRequest { TBSRequest { requestList { Request { CertID } } } }
	certID := []byte{0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00}
	certID = append(certID, 0x04, 20)
	certID = append(certID, h...)
	certID = append(certID, 0x04, 20)
	certID = append(certID, h...)
	certID = append(certID, 0x02, 0x01, 0x05)
	seq := func(b []byte) []byte { return append([]byte{0x30, byte(len(b))}, b...) }
	return seq(seq(seq(seq(seq(certID)))))
}

func serve(h http.Handler, method, target string, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRequestFixtureParses(t *testing.T) {
	req, err := pki.ParseOCSPRequest(request())
	if err != nil || req.Serial.Cmp(big.NewInt(5)) != 0 || req.HashAlgorithm != crypto.SHA1 {
		t.Fatalf("%+v %v", req, err)
	}
}

func TestRoutes(t *testing.T) {
	f := &fake{}
	h := public.New(f, public.Options{MaxAge: 5 * time.Second, Clock: clock.NewFake(now),
		Ready: func(context.Context) error { return nil }})
	b64 := base64.StdEncoding.EncodeToString(request())
	cases := []struct {
		method, target, body string
		hdr                  []string
		code                 int
		contentType          string
	}{
		{"GET", "/healthz", "", nil, 200, "text/plain; charset=utf-8"},
		{"GET", "/readyz", "", nil, 200, "text/plain; charset=utf-8"},
		{"GET", "/crl/" + caID + ".crl", "", nil, 200, "application/pkix-crl"},
		{"HEAD", "/crl/" + caID + "-3.crl", "", nil, 200, "application/pkix-crl"},
		{"GET", "/any/custom/path/" + caID + "-2.crl", "", nil, 200, "application/pkix-crl"},
		{"GET", "/crl/" + caID + "-0.crl", "", nil, 404, ""},
		{"GET", "/crl/" + caID + "-9.crl", "", nil, 404, ""},
		{"GET", "/crl/short.crl", "", nil, 404, ""},
		{"POST", "/crl/" + caID + ".crl", "", nil, 405, ""},
		{"GET", "/crl/" + caID + ".crl", "", []string{"If-None-Match", `"crl-7"`}, 304, ""},
		{"GET", "/ca/" + caID + ".crt", "", nil, 200, "application/pkix-cert"},
		{"GET", "/ca/unknown.crt", "", nil, 404, ""},
		{"GET", "/ocsp/" + b64, "", nil, 200, "application/ocsp-response"},
		{"GET", "/ocsp/" + strings.ReplaceAll(b64, "/", "%2F"), "", nil, 200, "application/ocsp-response"},
		{"GET", "/" + strings.TrimRight(b64, "="), "", nil, 200, "application/ocsp-response"},
		{"POST", "/ocsp", string(request()), []string{"Content-Type", "application/ocsp-request"}, 200, "application/ocsp-response"},
		{"POST", "/", string(request()), []string{"Content-Type", "application/ocsp-request"}, 200, "application/ocsp-response"},
		{"POST", "/ocsp", "x", []string{"Content-Type", "text/plain"}, 415, ""},
		{"GET", "/ocsp", "", nil, 405, ""},
		{"PUT", "/ocsp/" + b64, "", nil, 404, ""},
		{"GET", "/favicon.ico", "", nil, 404, ""},
	}
	for _, c := range cases {
		w := serve(h, c.method, c.target, c.body, c.hdr...)
		if w.Code != c.code || (c.contentType != "" && w.Header().Get("Content-Type") != c.contentType) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, w.Code, w.Header().Get("Content-Type"), c.code, c.contentType)
		}
	}
	// The cacheable OCSP answer carries the RFC 5019 headers, and a
	// conditional GET with its ETag gets 304.
	w := serve(h, "GET", "/ocsp/"+b64, "")
	hd := w.Header()
	if hd.Get("Cache-Control") != "max-age=5, public, no-transform, must-revalidate" || hd.Get("ETag") == "" ||
		hd.Get("Last-Modified") != now.Format(http.TimeFormat) || hd.Get("Expires") != now.Add(time.Hour).Format(http.TimeFormat) {
		t.Fatalf("headers %v", hd)
	}
	if w := serve(h, "GET", "/ocsp/"+b64, "", "If-None-Match", hd.Get("ETag")); w.Code != 304 {
		t.Fatalf("conditional GET: %d", w.Code)
	}
}

func TestOCSPErrors(t *testing.T) {
	f := &fake{}
	h := public.New(f, public.Options{Clock: clock.NewFake(now)})
	status := func(w *httptest.ResponseRecorder) int {
		b := w.Body.Bytes()
		if w.Code != 200 || len(b) != 5 || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("error answer %d %x", w.Code, b)
		}
		return int(b[4])
	}
	if s := status(serve(h, "POST", "/ocsp", "junk")); s != pki.OCSPMalformedRequest {
		t.Errorf("junk: %d", s)
	}
	if s := status(serve(h, "GET", "/ocsp/!!!!", "")); s != pki.OCSPMalformedRequest {
		t.Errorf("bad base64: %d", s)
	}
	if s := status(serve(h, "POST", "/ocsp", strings.Repeat("x", 20<<10))); s != pki.OCSPMalformedRequest {
		t.Errorf("oversized: %d", s)
	}
	f.ocspErr = ca.ErrOCSPUnauthorized
	if s := status(serve(h, "POST", "/ocsp", string(request()))); s != pki.OCSPUnauthorized {
		t.Errorf("unauthorized: %d", s)
	}
	f.ocspErr = errors.New("database down")
	if s := status(serve(h, "POST", "/ocsp", string(request()))); s != pki.OCSPTryLater {
		t.Errorf("internal failure: %d", s)
	}
	if len(f.ocspAsked) != 2 {
		t.Fatalf("the service was asked %d times; malformed requests must not reach it", len(f.ocspAsked))
	}
}

// FuzzServe throws arbitrary paths and bodies at the handler: it must never
// panic, and every OCSP answer must be a well-formed response or error.
func FuzzServe(f *testing.F) {
	f.Add("GET", "/ocsp/"+base64.StdEncoding.EncodeToString(request()), []byte(nil))
	f.Add("POST", "/ocsp", request())
	f.Add("GET", "/crl/"+caID+"-1.crl", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if method != "GET" && method != "POST" && method != "HEAD" {
			return
		}
		r, err := http.NewRequest(method, "http://sigil.test/", strings.NewReader(string(body)))
		if err != nil {
			return
		}
		r.URL.Path, r.URL.RawPath = path, ""
		w := httptest.NewRecorder()
		public.New(&fake{}, public.Options{Clock: clock.NewFake(now)}).ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d", method, path, w.Code)
		}
	})
}
