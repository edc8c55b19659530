package ca

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Audit report statuses and formats.
const (
	ReportCreating = "CREATING"
	ReportSuccess  = "SUCCESS"
	ReportFailed   = "FAILED"
)

// AuditReport describes an audit report.
type AuditReport struct {
	ID        string
	Status    string
	Bucket    string
	Key       string
	CreatedAt time.Time
}

// auditReportTimeout bounds how long writing one report may take; a report
// still CREATING after it (its node died) is marked FAILED by
// FailStaleAuditReports.
const auditReportTimeout = time.Hour

var reportIDRE = regexp.MustCompile(`^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$`)

// CreateAuditReport starts writing a report of every certificate the CA
// issued or revoked into the object-store bucket, as JSON or CSV, and
// returns the report's ID and object key at once; the report is written in
// the background (DescribeAuditReport tells when it is done).
func (s *Service) CreateAuditReport(ctx context.Context, p iam.Principal, caARN, bucket, format string) (id, key string, err error) {
	_, caID, err := s.parseCAARN(caARN)
	if err != nil {
		return "", "", err
	}
	if err := s.authorizeCA(ctx, p, caID, iam.Request{Action: "acm-pca:CreateCertificateAuthorityAuditReport", Resource: caARN}); err != nil {
		return "", "", err
	}
	switch {
	case bucket == "":
		return "", "", required("s3BucketName")
	case len(bucket) < 3 || len(bucket) > 63 || !bucketRE.MatchString(bucket) || strings.Contains(bucket, ".."):
		return "", "", invalidArgs("S3BucketName %q does not follow bucket naming rules (3 to 63 lowercase letters, digits, dots and hyphens).", bucket)
	case format == "":
		return "", "", required("auditReportResponseFormat")
	case format != "JSON" && format != "CSV":
		return "", "", enumValidation("auditReportResponseFormat", format, []string{"JSON", "CSV"})
	}
	if s.opts.Objects == nil {
		return "", "", errs.New(errs.Internal, "audit reports need an object store, and none is configured")
	}
	now := s.clock.Now()
	id = uuid.NewString()
	key = "audit-report/" + caID + "/" + id + "." + strings.ToLower(format)
	rep := &store.AuditReport{ID: id, CAID: caID, Status: ReportCreating, Bucket: bucket, Key: key, Format: format, CreatedAt: now}
	var rec *store.CA
	err = s.store.Update(ctx, func(tx store.Tx) (err error) {
		if rec, err = s.loadCA(ctx, tx, caID, caARN); err != nil {
			return err
		}
		if st := effectiveStatus(rec, now); st != Active && st != Disabled {
			return invalidState("The certificate authority %s is %s; audit reports can be created only while it is ACTIVE or DISABLED.", caARN, st)
		}
		busy, err := tx.AuditReports().Creating(ctx, caID)
		if err != nil {
			return err
		}
		if busy {
			return errs.Coded(errs.Conflict, CodeInProgress, "An audit report of %s is still being created; wait for it to finish.", caARN)
		}
		return tx.AuditReports().Insert(ctx, rep)
	})
	if err != nil {
		return "", "", err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.bg, auditReportTimeout)
		defer cancel()
		s.writeAuditReport(ctx, rec, rep)
	}()
	return id, key, nil
}

// Stop cancels background work (audit reports being written, which then
// fail) and waits for it to end.
func (s *Service) Stop() {
	s.bgCancel()
	s.wg.Wait()
}

// auditLine is one certificate in an audit report. Field names are AWS's.
type auditLine struct {
	AWSAccountID                string `json:"awsAccountId"`
	RequestedByServicePrincipal string `json:"requestedByServicePrincipal"`
	CertificateARN              string `json:"certificateArn"`
	Serial                      string `json:"serial"`
	Subject                     string `json:"subject"`
	NotBefore                   string `json:"notBefore"`
	NotAfter                    string `json:"notAfter"`
	IssuedAt                    string `json:"issuedAt"`
	RevokedAt                   string `json:"revokedAt,omitempty"`
	RevocationReason            string `json:"revocationReason,omitempty"`
	TemplateARN                 string `json:"templateArn"`
}

var auditCSVHeader = []string{"awsAccountId", "requestedByServicePrincipal", "certificateArn", "serial", "subject",
	"notBefore", "notAfter", "issuedAt", "revokedAt", "revocationReason", "templateArn"}

func (l *auditLine) csv() []string {
	return []string{l.AWSAccountID, l.RequestedByServicePrincipal, l.CertificateARN, l.Serial, l.Subject, l.NotBefore,
		l.NotAfter, l.IssuedAt, l.RevokedAt, l.RevocationReason, l.TemplateARN}
}

func reportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// colonSerial formats a serial as colon-separated hex bytes, as AWS audit
// reports do.
func colonSerial(n *big.Int) string {
	b := n.Bytes()
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// writeAuditReport streams the CA's certificates into the report object and
// records the outcome.
func (s *Service) writeAuditReport(ctx context.Context, rec *store.CA, rep *store.AuditReport) {
	status := ReportSuccess
	n, err := s.streamAuditReport(ctx, rec, rep)
	if err != nil {
		status = ReportFailed
		s.log.ErrorContext(ctx, "audit report failed", "ca", rec.ARN, "report", rep.ID, "err", err)
	} else {
		s.log.InfoContext(ctx, "audit report written", "ca", rec.ARN, "report", rep.ID, "bucket", rep.Bucket,
			"key", rep.Key, "certificates", n)
	}
	// Record the outcome even when the work was cancelled by a shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.AuditReports().SetStatus(ctx, rep.ID, status) }); err != nil {
		s.log.ErrorContext(ctx, "recording an audit report's status failed", "report", rep.ID, "err", err)
	}
}

func (s *Service) streamAuditReport(ctx context.Context, rec *store.CA, rep *store.AuditReport) (int, error) {
	obj, err := s.opts.Objects.Create(ctx, rep.Bucket, rep.Key)
	if err != nil {
		return 0, err
	}
	committed := false
	defer func() {
		if !committed {
			obj.Abort()
		}
	}()
	w := bufio.NewWriterSize(obj, 64<<10)
	var cw *csv.Writer
	if rep.Format == "CSV" {
		cw = csv.NewWriter(w)
		cw.Write(auditCSVHeader)
	} else {
		w.WriteString("[")
	}
	n := 0
	err = s.store.View(ctx, func(tx store.Tx) error {
		return tx.Certificates().Each(ctx, rec.ID, func(c *store.Certificate) error {
			sn, err := pki.ParseSerialHex(c.Serial)
			if err != nil {
				return err
			}
			line := auditLine{AWSAccountID: c.Account, CertificateARN: certARN(rec.ARN, sn), Serial: colonSerial(sn),
				NotBefore: reportTime(c.NotBefore), NotAfter: reportTime(c.NotAfter), IssuedAt: reportTime(c.IssuedAt),
				RevokedAt: reportTime(c.RevokedAt), RevocationReason: c.RevocationReason, TemplateARN: c.TemplateARN}
			if cert, err := x509.ParseCertificate(c.DER); err == nil {
				line.Subject = cert.Subject.String()
			}
			if cw != nil {
				return cw.Write(line.csv())
			}
			b, err := json.Marshal(&line)
			if err != nil {
				return err
			}
			if n > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n  ")
			_, err = w.Write(b)
			n++
			return err
		})
	})
	if err != nil {
		return n, err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
	} else {
		w.WriteString("\n]\n")
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	if err := obj.Commit(); err != nil {
		return n, err
	}
	committed = true
	return n, nil
}

// DescribeAuditReport returns an audit report of a CA.
func (s *Service) DescribeAuditReport(ctx context.Context, p iam.Principal, caARN, id string) (*AuditReport, error) {
	_, caID, err := s.parseCAARN(caARN)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCA(ctx, p, caID, iam.Request{Action: "acm-pca:DescribeCertificateAuthorityAuditReport", Resource: caARN}); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, required("auditReportId")
	}
	if !reportIDRE.MatchString(id) {
		return nil, invalidArgs("AuditReportId %q is not an audit report ID (a lowercase UUID).", id)
	}
	var rep *store.AuditReport
	err = s.store.View(ctx, func(tx store.Tx) error {
		if _, err := s.loadCA(ctx, tx, caID, caARN); err != nil {
			return err
		}
		rep, err = tx.AuditReports().Get(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && rep.CAID != caID) {
		return nil, notFound("Audit report %s of %s not found.", id, caARN)
	}
	if err != nil {
		return nil, err
	}
	return &AuditReport{ID: rep.ID, Status: rep.Status, Bucket: rep.Bucket, Key: rep.Key, CreatedAt: rep.CreatedAt}, nil
}

// FailStaleAuditReports marks reports that have been CREATING for longer
// than a report may take (their node stopped) as FAILED.
func (s *Service) FailStaleAuditReports(ctx context.Context, fence func(store.Tx) error) (int, error) {
	var n int
	err := s.fenced(ctx, fence, func(tx store.Tx) (err error) {
		n, err = tx.AuditReports().FailStale(ctx, s.clock.Now().Add(-auditReportTimeout-time.Minute))
		return err
	})
	return n, err
}
