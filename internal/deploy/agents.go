package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Token is an enrolment token as listed (never its secret).
type Token struct {
	ID          string
	Account     string
	Tags        map[string]string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time
	UsedBy      string
}

// Agent is an enrolled agent as shown to operators.
type Agent struct {
	ID           string
	ARN          string
	Account      string
	Hostname     string
	Tags         map[string]string
	Status       string // ACTIVE, STALE or DEREGISTERED
	AgentVersion string
	CertSerial   string
	CertNotAfter time.Time
	EnrolledAt   time.Time
	LastSeenAt   time.Time
	// AuthSerial is the serial of the client certificate the agent
	// authenticated with (set by AuthenticateAgent).
	AuthSerial string
}

// Enrolled is what an agent receives when it enrols.
type Enrolled struct {
	Agent       *Agent
	Certificate []byte // DER of its client certificate
	CA          []byte // DER of the agent CA
}

// TokenInput creates an enrolment token.
type TokenInput struct {
	Tags        map[string]string
	Description string
	Lifetime    time.Duration // default Options.TokenLifetime; at most 30 days
}

const (
	agentCAMetaKey = "deploy.agent-ca"
	agentURIPrefix = "urn:sigil:agent:"
	tokenPrefix    = "et-"
	maxTokenLife   = 30 * 24 * time.Hour
)

// CreateToken makes a one-time enrolment token for the caller's account.
// The agent that uses it gets the token's tags. The returned string is the
// only copy of the token's secret.
func (s *Deployments) CreateToken(ctx context.Context, p iam.Principal, in TokenInput) (*Token, string, error) {
	if err := s.authorize(ctx, p, "CreateEnrollmentToken", s.arn(p.Account, "enrollment-token/*")); err != nil {
		return nil, "", err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, "", err
	}
	if len(in.Description) > 256 {
		return nil, "", invalid("The description is longer than 256 characters.")
	}
	life := in.Lifetime
	switch {
	case life == 0:
		life = s.opts.TokenLifetime
	case life < time.Minute || life > maxTokenLife:
		return nil, "", invalid("A token lives between 1 minute and 30 days; %s was asked.", life)
	}
	idb, secret := make([]byte, 8), make([]byte, 32)
	rand.Read(idb)
	rand.Read(secret)
	sum := sha256.Sum256(secret)
	now := s.clock.Now()
	t := &store.AgentToken{ID: tokenPrefix + hex.EncodeToString(idb), Account: p.Account, Hash: sum[:],
		Tags: encodeTags(in.Tags), Description: in.Description, CreatedBy: p.ARN, CreatedAt: now, ExpiresAt: now.Add(life)}
	if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Deploy().InsertToken(ctx, t) }); err != nil {
		return nil, "", err
	}
	return tokenView(t), t.ID + "." + base64.RawURLEncoding.EncodeToString(secret), nil
}

func tokenView(t *store.AgentToken) *Token {
	return &Token{ID: t.ID, Account: t.Account, Tags: decodeTags(t.Tags), Description: t.Description,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, UsedBy: t.UsedBy}
}

// ListTokens lists the account's enrolment tokens, newest first.
func (s *Deployments) ListTokens(ctx context.Context, p iam.Principal) ([]*Token, error) {
	if err := s.authorize(ctx, p, "ListEnrollmentTokens", s.arn(p.Account, "enrollment-token/*")); err != nil {
		return nil, err
	}
	var out []*Token
	err := s.store.View(ctx, func(tx store.Tx) error {
		ts, err := tx.Deploy().ListTokens(ctx, p.Account)
		for _, t := range ts {
			out = append(out, tokenView(t))
		}
		return err
	})
	return out, err
}

// DeleteToken revokes an unused token (or forgets a used one).
func (s *Deployments) DeleteToken(ctx context.Context, p iam.Principal, id string) error {
	if err := s.authorize(ctx, p, "DeleteEnrollmentToken", s.arn(p.Account, "enrollment-token/"+id)); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		t, err := tx.Deploy().GetToken(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && t.Account != p.Account) {
			return notFound("Enrolment token %s not found.", id)
		}
		if err != nil {
			return err
		}
		return tx.Deploy().DeleteToken(ctx, id)
	})
}

func badToken() error {
	return errs.Coded(errs.Denied, CodeInvalidToken, "The enrolment token is not valid.")
}

// Enrol exchanges a one-time token and a CSR for an agent identity: an
// agent record with the token's tags and a client certificate for the
// CSR's key (the private key never leaves the agent).
func (s *Deployments) Enrol(ctx context.Context, token string, csrDER []byte, hostname, version string) (*Enrolled, error) {
	id, secretPart, ok := strings.Cut(strings.TrimSpace(token), ".")
	secret, err := base64.RawURLEncoding.DecodeString(secretPart)
	if !ok || !strings.HasPrefix(id, tokenPrefix) || err != nil || len(secret) != 32 {
		return nil, badToken()
	}
	if len(hostname) > 253 || len(version) > 64 {
		return nil, invalid("The host name or agent version is too long.")
	}
	csr, err := parseAgentCSR(csrDER)
	if err != nil {
		return nil, err
	}
	ca, err := s.agentCA(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var agent *store.Agent
	var certDER []byte
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := tx.Deploy().GetToken(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return badToken()
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(secret)
		if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 {
			return badToken()
		}
		if !t.UsedAt.IsZero() {
			return errs.Coded(errs.Denied, CodeInvalidToken, "The enrolment token was used already; tokens are one-time. Create a new one.")
		}
		if !now.Before(t.ExpiresAt) {
			return errs.Coded(errs.Denied, CodeInvalidToken, "The enrolment token expired at %s.", t.ExpiresAt.UTC().Format(time.RFC3339))
		}
		agentID := newAgentID()
		der, notAfter, err := s.issueAgentCert(ca, t.Account, agentID, csr)
		if err != nil {
			return err
		}
		certDER = der
		if err := tx.Deploy().UseToken(ctx, id, agentID, now); err != nil {
			if errors.Is(err, store.ErrStale) {
				return errs.Coded(errs.Denied, CodeInvalidToken, "The enrolment token was used already; tokens are one-time. Create a new one.")
			}
			return err
		}
		leaf, _ := x509.ParseCertificate(der)
		agent = &store.Agent{ID: agentID, Account: t.Account, Hostname: hostname, Tags: t.Tags, TokenID: t.ID,
			CertSerial: pki.SerialHex(leaf.SerialNumber), CertNotAfter: notAfter, AgentVersion: version,
			Status: AgentActive, CreatedAt: now, LastSeenAt: now}
		if err := tx.Deploy().InsertAgent(ctx, agent); err != nil {
			return err
		}
		return events.Publish(ctx, tx, EventSource, "Sigil Agent State Change", t.Account, s.region, now,
			[]string{s.arn(t.Account, "agent/"+agentID)},
			map[string]any{"agentId": agentID, "hostname": hostname, "state": "ENROLLED", "tags": decodeTags(t.Tags)})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("agent enrolled", "agent", agent.ID, "account", agent.Account, "hostname", hostname)
	// Deployments that select the new agent assign to it now, not at the
	// next reconcile.
	if err := s.reconcileAccount(ctx, agent.Account); err != nil {
		s.log.Warn("reconcile after enrolment", "agent", agent.ID, "err", err)
	}
	return &Enrolled{Agent: s.agentView(agent), Certificate: certDER, CA: ca.cert.Raw}, nil
}

func newAgentID() string {
	b := make([]byte, 9)
	rand.Read(b)
	return "ag-" + hex.EncodeToString(b)[:17]
}

// parseAgentCSR checks a CSR's signature and key.
func parseAgentCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, invalid("The certificate signing request does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, invalid("The certificate signing request's signature does not verify.")
	}
	if _, err := pki.KeyAlgorithmOf(csr.PublicKey); err != nil {
		return nil, invalid("The agent key must be RSA (2048 bits or more) or ECDSA P-256/P-384: %v", err)
	}
	return csr, nil
}

// RenewAgentCertificate issues a new client certificate to an
// authenticated agent. Its previous certificate stays valid until it
// expires, so an agent that loses the answer can retry.
func (s *Deployments) RenewAgentCertificate(ctx context.Context, a *Agent, csrDER []byte) ([]byte, error) {
	csr, err := parseAgentCSR(csrDER)
	if err != nil {
		return nil, err
	}
	ca, err := s.agentCA(ctx)
	if err != nil {
		return nil, err
	}
	der, notAfter, err := s.issueAgentCert(ca, a.Account, a.ID, csr)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		row, err := tx.Deploy().GetAgent(ctx, a.ID)
		if err != nil {
			return err
		}
		// The certificate the agent used stays valid: if the answer is
		// lost, the agent retries with it and keeps working.
		prev := row.CertSerial
		if a.AuthSerial != "" && (a.AuthSerial == row.CertSerial || a.AuthSerial == row.PrevSerial) {
			prev = a.AuthSerial
		}
		row.PrevSerial, row.CertSerial, row.CertNotAfter = prev, pki.SerialHex(leaf.SerialNumber), notAfter
		return tx.Deploy().UpdateAgent(ctx, row)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("agent certificate renewed", "agent", a.ID, "not_after", notAfter)
	return der, nil
}

// AuthenticateAgent maps a client certificate chain, as TLS verified it
// (leaf first), to its agent. The chain must end at the agent CA — TLS
// checked the signatures, so this is a comparison, not a second
// verification on every request. The agent must be active and the
// certificate its current or previous one, so a deregistered agent or a
// superseded certificate is refused at once, without waiting for expiry.
func (s *Deployments) AuthenticateAgent(ctx context.Context, verified []*x509.Certificate) (*Agent, error) {
	refuse := errs.Coded(errs.Denied, "AccessDeniedException", "The client certificate does not identify an enrolled agent.")
	if len(verified) < 2 {
		return nil, refuse
	}
	ca, err := s.agentCA(ctx)
	if err != nil {
		return nil, err
	}
	leaf := verified[0]
	if !verified[len(verified)-1].Equal(ca.cert) {
		return nil, refuse
	}
	var id string
	for _, u := range leaf.URIs {
		if rest, ok := strings.CutPrefix(u.String(), agentURIPrefix); ok {
			if _, agentID, ok := strings.Cut(rest, ":"); ok {
				id = agentID
			}
		}
	}
	if id == "" {
		return nil, refuse
	}
	var row *store.Agent
	err = s.store.Read(ctx, func(tx store.Tx) (err error) { row, err = tx.Deploy().GetAgent(ctx, id); return err })
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse
	}
	if err != nil {
		return nil, err
	}
	serial := pki.SerialHex(leaf.SerialNumber)
	if row.Status != AgentActive || (serial != row.CertSerial && serial != row.PrevSerial) {
		return nil, refuse
	}
	v := s.agentView(row)
	v.AuthSerial = serial
	return v, nil
}

func (s *Deployments) agentView(a *store.Agent) *Agent {
	status := a.Status
	if status == AgentActive && s.clock.Now().Sub(a.LastSeenAt) > s.opts.StaleAfter {
		status = AgentStale
	}
	return &Agent{ID: a.ID, ARN: s.arn(a.Account, "agent/"+a.ID), Account: a.Account, Hostname: a.Hostname,
		Tags: decodeTags(a.Tags), Status: status, AgentVersion: a.AgentVersion, CertSerial: a.CertSerial,
		CertNotAfter: a.CertNotAfter, EnrolledAt: a.CreatedAt, LastSeenAt: a.LastSeenAt}
}

// ListAgents lists the account's agents.
func (s *Deployments) ListAgents(ctx context.Context, p iam.Principal) ([]*Agent, error) {
	if err := s.authorize(ctx, p, "ListAgents", s.arn(p.Account, "agent/*")); err != nil {
		return nil, err
	}
	var out []*Agent
	err := s.store.View(ctx, func(tx store.Tx) error {
		as, err := tx.Deploy().ListAgents(ctx, p.Account)
		for _, a := range as {
			out = append(out, s.agentView(a))
		}
		return err
	})
	return out, err
}

// AgentCounts counts every account's agents by status (for metrics).
func (s *Deployments) AgentCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		as, err := tx.Deploy().ListAgents(ctx, "")
		for _, a := range as {
			out[s.agentView(a).Status]++
		}
		return err
	})
	return out, err
}

func (s *Deployments) loadAgent(ctx context.Context, tx store.Tx, account, id string) (*store.Agent, error) {
	a, err := tx.Deploy().GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Account != account) {
		return nil, notFound("Agent %s not found.", id)
	}
	return a, err
}

// DescribeAgent returns an agent and what it holds.
func (s *Deployments) DescribeAgent(ctx context.Context, p iam.Principal, id string) (*Agent, []*Installation, error) {
	if err := s.authorize(ctx, p, "DescribeAgent", s.arn(p.Account, "agent/"+id)); err != nil {
		return nil, nil, err
	}
	var agent *Agent
	var inst []*Installation
	err := s.store.View(ctx, func(tx store.Tx) error {
		a, err := s.loadAgent(ctx, tx, p.Account, id)
		if err != nil {
			return err
		}
		agent = s.agentView(a)
		inst, err = s.installations(ctx, tx, nil, a)
		return err
	})
	return agent, inst, err
}

// TagAgent adds (or replaces) and removes tags of an agent; deployments
// that now select it assign to it, those that no longer do leave what it
// holds in place.
func (s *Deployments) TagAgent(ctx context.Context, p iam.Principal, id string, add map[string]string, remove []string) (*Agent, error) {
	if err := s.authorize(ctx, p, "TagAgent", s.arn(p.Account, "agent/"+id)); err != nil {
		return nil, err
	}
	var out *Agent
	err := s.store.Update(ctx, func(tx store.Tx) error {
		a, err := s.loadAgent(ctx, tx, p.Account, id)
		if err != nil {
			return err
		}
		tags := decodeTags(a.Tags)
		for k, v := range add {
			tags[k] = v
		}
		for _, k := range remove {
			delete(tags, k)
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		a.Tags = encodeTags(tags)
		if err := tx.Deploy().UpdateAgent(ctx, a); err != nil {
			return err
		}
		out = s.agentView(a)
		return nil
	})
	if err == nil {
		if rerr := s.reconcileAccount(ctx, p.Account); rerr != nil {
			s.log.Warn("reconcile after tagging", "agent", id, "err", rerr)
		}
	}
	return out, err
}

// DeregisterAgent revokes an agent: its certificates stop working at once
// and it leaves every deployment's inventory (its files stay where they
// are).
func (s *Deployments) DeregisterAgent(ctx context.Context, p iam.Principal, id string) error {
	if err := s.authorize(ctx, p, "DeregisterAgent", s.arn(p.Account, "agent/"+id)); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.store.Update(ctx, func(tx store.Tx) error {
		a, err := s.loadAgent(ctx, tx, p.Account, id)
		if err != nil {
			return err
		}
		a.Status = AgentDeregistered
		if err := tx.Deploy().UpdateAgent(ctx, a); err != nil {
			return err
		}
		targets, err := tx.Deploy().TargetsOfAgent(ctx, id)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if err := tx.Deploy().DeleteTarget(ctx, t.DeploymentID, t.AgentID); err != nil {
				return err
			}
		}
		return events.Publish(ctx, tx, EventSource, "Sigil Agent State Change", a.Account, s.region, now,
			[]string{s.arn(a.Account, "agent/"+id)}, map[string]any{"agentId": id, "hostname": a.Hostname, "state": "DEREGISTERED"})
	})
}

// agentCA is the CA that signs agents' client certificates. It lives in
// the store (its key sealed with the master key) so that every node of a
// cluster trusts the same agents.
type agentCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type agentCARecord struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"` // sealed PKCS#8
}

var agentCASealContext = []byte("sigil/deploy/agent-ca")

// AgentCA returns the certificate of the CA that signs agent certificates
// (the agent listener trusts client certificates it signed).
func (s *Deployments) AgentCA(ctx context.Context) (*x509.Certificate, error) {
	ca, err := s.agentCA(ctx)
	if err != nil {
		return nil, err
	}
	return ca.cert, nil
}

func (s *Deployments) agentCA(ctx context.Context) (*agentCA, error) {
	s.caMu.Lock()
	defer s.caMu.Unlock()
	if s.ca != nil {
		return s.ca, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		var raw string
		err := s.store.View(ctx, func(tx store.Tx) (err error) { raw, err = tx.Meta().Get(ctx, agentCAMetaKey); return err })
		if err == nil {
			ca, err := s.openAgentCA(raw)
			if err != nil {
				return nil, err
			}
			s.ca = ca
			return ca, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		rec, err := s.newAgentCA()
		if err != nil {
			return nil, err
		}
		// Insert is a once-only guard: a node that loses the race reads the
		// winner's CA on the next pass.
		err = s.store.Update(ctx, func(tx store.Tx) error { return tx.Meta().Insert(ctx, agentCAMetaKey, rec) })
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
	}
	return nil, errs.New(errs.Internal, "the agent CA could not be created")
}

func (s *Deployments) newAgentCA() (string, error) {
	cert, key, err := pki.NewLocalCA("Sigil Agent CA", s.wall.Now(), 20*365*24*time.Hour)
	if err != nil {
		return "", err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal(p8, agentCASealContext)
	clear(p8)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(agentCARecord{Cert: cert.Raw, Key: sealed})
	return string(b), err
}

func (s *Deployments) openAgentCA(raw string) (*agentCA, error) {
	var rec agentCARecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, errs.Wrap(err, "agent CA record")
	}
	cert, err := x509.ParseCertificate(rec.Cert)
	if err != nil {
		return nil, errs.Wrap(err, "agent CA certificate")
	}
	p8, err := s.sealer.Open(rec.Key, agentCASealContext)
	if err != nil {
		return nil, errs.Wrap(err, "unseal the agent CA key")
	}
	k, err := x509.ParsePKCS8PrivateKey(p8)
	clear(p8)
	if err != nil {
		return nil, errs.Wrap(err, "agent CA key")
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errs.New(errs.Internal, "the agent CA key is not ECDSA")
	}
	return &agentCA{cert: cert, key: key}, nil
}

// issueAgentCert signs a client certificate naming the agent in a URI
// (urn:sigil:agent:ACCOUNT:ID) and its common name.
func (s *Deployments) issueAgentCert(ca *agentCA, account, agentID string, csr *x509.CertificateRequest) ([]byte, time.Time, error) {
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, time.Time{}, err
	}
	u, err := url.Parse(agentURIPrefix + account + ":" + agentID)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := s.wall.Now()
	notAfter := now.Add(s.opts.AgentCertLifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tpl := &x509.Certificate{SerialNumber: serial,
		Subject:   pkix.Name{CommonName: agentID, Organization: []string{"Sigil agents"}, OrganizationalUnit: []string{account}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: notAfter, URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, AuthorityKeyId: ca.cert.SubjectKeyId}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, time.Time{}, errs.Wrap(err, "sign the agent certificate")
	}
	return der, notAfter.Truncate(time.Second), nil
}

// serialOf returns the hex serial of a PEM certificate's first block.
func serialOf(certPEM []byte) (string, *x509.Certificate, error) {
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil || len(certs) == 0 {
		return "", nil, fmt.Errorf("no certificate: %v", err)
	}
	return pki.SerialHex(certs[0].SerialNumber), certs[0], nil
}
