package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/secrets"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/tagging"
)

// CreateInput creates a deployment.
type CreateInput struct {
	Name string
	// Exactly one source: an ACM certificate (private, exportable) or a
	// secret holding a certificate bundle (CERTIFICATE_PEM,
	// PRIVATE_KEY_PEM, CERTIFICATE_CHAIN_PEM: what the built-in
	// certificate rotation writes).
	CertificateARN string
	SecretID       string
	// TargetTags select the agents: every tag must match.
	TargetTags map[string]string
	// TargetAccount selects agents of another account, one that trusts
	// the caller's account for deployments ("": the caller's own).
	TargetAccount string
	Profile       string  // a built-in or custom profile
	Overrides     Profile // fields that replace the profile's
}

// Deployment is a deployment as shown.
type Deployment struct {
	Name                 string
	ARN                  string
	SourceARN            string
	TargetTags           map[string]string
	TargetAccount        string
	SourceError          string // why the source cannot be deployed now ("" when it can)
	ProfileName          string
	Profile              Profile // resolved
	PassphraseSecretARN  string
	Version              string
	Serial               string
	CreatedBy            string
	CreatedAt, UpdatedAt time.Time
	Targets              []*Installation
}

// Installation is one row of the inventory: a certificate on an agent.
type Installation struct {
	Deployment    string
	DeploymentARN string
	SourceARN     string
	AgentID       string
	Hostname      string
	AgentStatus   string
	Paths         []string
	Serial        string    // installed and verified ("" never)
	InstalledAt   time.Time // when it was verified
	Status        string    // of the latest assignment
	DesiredSerial string    // of the latest assignment
	Attempts      int
	Message       string
	UpdatedAt     time.Time
}

func isACM(arn string) bool { return strings.HasPrefix(arn, "arn:aws:acm:") }

// serviceRole is who reads a deployment's source.
func serviceRole(account string) iam.Principal { return iam.ServiceLinkedRole(Service, account) }

// CreateDeployment creates a deployment and assigns it to the agents that
// match at once. The caller must be allowed to read the source itself (to
// export the certificate, or to read the secret): a deployment is not a
// way around the source's permissions.
func (s *Deployments) CreateDeployment(ctx context.Context, p iam.Principal, in CreateInput) (*Deployment, error) {
	arn := s.arn(p.Account, "deployment/"+in.Name)
	if err := s.authorize(ctx, p, "CreateDeployment", arn); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.Name) {
		return nil, invalid("A deployment name is 1 to 64 letters, digits, '.', '_' and '-'.")
	}
	if (in.CertificateARN == "") == (in.SecretID == "") {
		return nil, invalid("Name exactly one source: CertificateArn (ACM) or SecretId (a certificate bundle secret).")
	}
	if len(in.TargetTags) == 0 {
		return nil, invalid("TargetTags must select agents by at least one tag (such as role=web).")
	}
	if err := checkTags(in.TargetTags); err != nil {
		return nil, err
	}
	if in.Profile == "" {
		return nil, invalid("Profile is required (built in: apache, nginx; or a custom profile).")
	}
	if in.TargetAccount == p.Account {
		in.TargetAccount = ""
	}
	if in.TargetAccount != "" {
		if !accountRE.MatchString(in.TargetAccount) {
			return nil, invalid("TargetAccount %q is not a 12-digit account ID.", in.TargetAccount)
		}
		var trusted bool
		err := s.store.View(ctx, func(tx store.Tx) (err error) {
			trusted, err = trusts(ctx, tx, in.TargetAccount, p.Account)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !trusted {
			return nil, errs.Coded(errs.Denied, "AccessDeniedException",
				"Account %s does not allow deployments from account %s (its administrator runs: sigil deploy trust set %s).",
				in.TargetAccount, p.Account, p.Account)
		}
	}
	var prof Profile
	err := s.store.View(ctx, func(tx store.Tx) (err error) { prof, err = s.profile(ctx, tx, p.Account, in.Profile); return err })
	if err != nil {
		return nil, err
	}
	prof, err = merge(prof, in.Overrides).resolve(in.Name)
	if err != nil {
		return nil, err
	}

	// The caller's own right to the source, then the source itself.
	source := in.CertificateARN
	if source != "" {
		if !isACM(source) {
			return nil, invalid("CertificateArn %q is not an ACM certificate ARN.", source)
		}
		if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:ExportCertificate", Resource: source}); err != nil {
			return nil, err
		}
		c, err := s.certs.Describe(ctx, p, source)
		if err != nil {
			return nil, err
		}
		if c.Type != "PRIVATE" || c.ExportOption != "ENABLED" {
			return nil, invalid("The certificate %s cannot be deployed: only private certificates requested with export enabled can leave Sigil.", source)
		}
	} else {
		v, err := s.secrets.Get(ctx, p, in.SecretID, "", "")
		if err != nil {
			return nil, err
		}
		if _, err := parseBundle(v); err != nil {
			return nil, err
		}
		source = v.ARN
	}

	now := s.clock.Now()
	d := &store.Deployment{ID: uuid.NewString(), Account: p.Account, Name: in.Name, ARN: arn, SourceARN: source,
		Selector: encodeTags(in.TargetTags), Profile: in.Profile, Status: "ACTIVE", CreatedBy: p.ARN, CreatedAt: now, UpdatedAt: now,
		TargetAccount: in.TargetAccount}
	d.Spec, _ = json.Marshal(prof)
	err = s.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Deploy().GetDeployment(ctx, p.Account, in.Name)
		if err == nil {
			return errs.Coded(errs.Conflict, "ResourceExistsException", "The deployment %s already exists.", in.Name)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if prof.KeyFormat != KeyPEM {
		if d.Passphrase, err = s.createPassphrase(ctx, p.Account, in.Name, in.TargetTags); err != nil {
			return nil, err
		}
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.Deploy().InsertDeployment(ctx, d); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errs.Coded(errs.Conflict, "ResourceExistsException", "The deployment %s already exists.", in.Name)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.reconcile(ctx, nil, d.ID, false); err != nil {
		s.log.Warn("first assignment of a deployment", "deployment", arn, "err", err)
	}
	return s.DescribeDeployment(ctx, p, in.Name)
}

// createPassphrase generates the key passphrase of a deployment and keeps
// it in a secret that no one reads but the deployment service (for the
// agents it selects, checked against the secret's tags): the secret's
// policy denies everyone else, administrators included.
func (s *Deployments) createPassphrase(ctx context.Context, account, name string, selector map[string]string) (string, error) {
	pass, err := secrets.RandomPassword(secrets.PasswordInput{Length: 32, ExcludePunctuation: true})
	if err != nil {
		return "", err
	}
	role := serviceRole(account)
	tags := []tagging.Tag{{Key: "sigil:deployment", Value: &name}}
	for _, k := range sortedKeys(selector) {
		v := selector[k]
		tags = append(tags, tagging.Tag{Key: k, Value: &v})
	}
	created, err := s.secrets.Create(ctx, role, secrets.CreateInput{
		Name:        "sigil/deploy/" + name + "/passphrase-" + uuid.NewString()[:8],
		Description: "Key passphrase of the deployment " + name + " (generated; readable only by its agents through Sigil)",
		Value:       secrets.Value{String: &pass}, Tags: tags})
	if err != nil {
		return "", fmt.Errorf("store the key passphrase: %w", err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"OnlyTheDeploymentService","Effect":"Deny","Principal":"*",`+
		`"Action":["secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:PutResourcePolicy","secretsmanager:DeleteResourcePolicy"],"Resource":"*",`+
		`"Condition":{"StringNotEquals":{"aws:PrincipalArn":%q}}}]}`, role.RoleARN)
	if _, err := s.secrets.PutPolicy(ctx, role, created.ARN, policy, false); err != nil {
		return "", fmt.Errorf("protect the key passphrase: %w", err)
	}
	return created.ARN, nil
}

// parseBundle reads a certificate bundle secret.
func parseBundle(v *secrets.SecretValue) (*bundle, error) {
	if v.Value.String == nil {
		return nil, invalid("The secret %s holds binary data, not a certificate bundle (JSON with CERTIFICATE_PEM and PRIVATE_KEY_PEM).", v.ARN)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(*v.Value.String), &raw); err != nil {
		return nil, invalid("The secret %s is not a JSON certificate bundle (CERTIFICATE_PEM, PRIVATE_KEY_PEM, CERTIFICATE_CHAIN_PEM).", v.ARN)
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	b := &bundle{cert: []byte(str("CERTIFICATE_PEM")), key: []byte(str("PRIVATE_KEY_PEM")), chain: []byte(str("CERTIFICATE_CHAIN_PEM"))}
	if len(b.cert) == 0 || len(b.key) == 0 {
		return nil, invalid("The secret %s has no CERTIFICATE_PEM or PRIVATE_KEY_PEM (yet).", v.ARN)
	}
	serial, _, err := serialOf(b.cert)
	if err != nil {
		return nil, invalid("The CERTIFICATE_PEM of %s does not parse.", v.ARN)
	}
	b.serial = serial
	return b, nil
}

type bundle struct {
	cert, chain, key []byte // key: PEM, any format ParsePrivateKeyPEM reads
	serial           string
}

func (s *Deployments) view(d *store.Deployment) *Deployment {
	out := &Deployment{Name: d.Name, ARN: d.ARN, SourceARN: d.SourceARN, TargetTags: decodeTags(d.Selector), TargetAccount: d.TargetAccount,
		SourceError: d.LastError, ProfileName: d.Profile, PassphraseSecretARN: d.Passphrase, Version: d.Version, Serial: d.Serial,
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	json.Unmarshal(d.Spec, &out.Profile)
	return out
}

func (s *Deployments) loadDeployment(ctx context.Context, tx store.Tx, account, name string) (*store.Deployment, error) {
	d, err := tx.Deploy().GetDeployment(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Deployment %s not found.", name)
	}
	return d, err
}

// DescribeDeployment returns a deployment and its targets.
func (s *Deployments) DescribeDeployment(ctx context.Context, p iam.Principal, name string) (*Deployment, error) {
	if err := s.authorize(ctx, p, "DescribeDeployment", s.arn(p.Account, "deployment/"+name)); err != nil {
		return nil, err
	}
	var out *Deployment
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, err := s.loadDeployment(ctx, tx, p.Account, name)
		if err != nil {
			return err
		}
		out = s.view(d)
		out.Targets, err = s.installations(ctx, tx, d, nil)
		return err
	})
	return out, err
}

// ListDeployments lists the account's deployments (without targets).
func (s *Deployments) ListDeployments(ctx context.Context, p iam.Principal) ([]*Deployment, error) {
	if err := s.authorize(ctx, p, "ListDeployments", s.arn(p.Account, "deployment/*")); err != nil {
		return nil, err
	}
	var out []*Deployment
	err := s.store.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Deploy().ListDeployments(ctx, p.Account)
		for _, d := range ds {
			out = append(out, s.view(d))
		}
		return err
	})
	return out, err
}

// DeleteDeployment stops a deployment: its agents get nothing more, the
// files they hold stay, and its passphrase secret is scheduled for
// deletion (7 days).
func (s *Deployments) DeleteDeployment(ctx context.Context, p iam.Principal, name string) error {
	if err := s.authorize(ctx, p, "DeleteDeployment", s.arn(p.Account, "deployment/"+name)); err != nil {
		return err
	}
	var passphrase string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		d, err := s.loadDeployment(ctx, tx, p.Account, name)
		if err != nil {
			return err
		}
		passphrase = d.Passphrase
		return tx.Deploy().DeleteDeployment(ctx, d.ID)
	})
	if err == nil && passphrase != "" {
		if _, derr := s.secrets.Delete(ctx, serviceRole(p.Account), secrets.DeleteInput{SecretID: passphrase, RecoveryWindowInDays: 7}); derr != nil {
			s.log.Warn("schedule deletion of a deployment's passphrase secret", "secret", passphrase, "err", derr)
		}
	}
	return err
}

// Redeploy assigns the current version to every target of a deployment
// again, even those that hold it.
func (s *Deployments) Redeploy(ctx context.Context, p iam.Principal, name string) (*Deployment, error) {
	if err := s.authorize(ctx, p, "Redeploy", s.arn(p.Account, "deployment/"+name)); err != nil {
		return nil, err
	}
	var id string
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, err := s.loadDeployment(ctx, tx, p.Account, name)
		if d != nil {
			id = d.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.reconcile(ctx, nil, id, true); err != nil {
		return nil, err
	}
	return s.DescribeDeployment(ctx, p, name)
}

// InventoryFilter narrows ListInstallations.
type InventoryFilter struct {
	SourceARN  string // a certificate or secret
	AgentID    string
	Deployment string
}

// ListInstallations is the inventory: where each certificate is
// installed, with what serial, since when, and the latest assignment's
// status.
func (s *Deployments) ListInstallations(ctx context.Context, p iam.Principal, f InventoryFilter) ([]*Installation, error) {
	if err := s.authorize(ctx, p, "ListInstallations", s.arn(p.Account, "deployment/*")); err != nil {
		return nil, err
	}
	var out []*Installation
	err := s.store.View(ctx, func(tx store.Tx) error {
		if f.AgentID != "" {
			a, err := s.loadAgent(ctx, tx, p.Account, f.AgentID)
			if err != nil {
				return err
			}
			all, err := s.installations(ctx, tx, nil, a)
			for _, in := range all {
				if (f.SourceARN == "" || in.SourceARN == f.SourceARN) && (f.Deployment == "" || in.Deployment == f.Deployment) {
					out = append(out, in)
				}
			}
			return err
		}
		var ds []*store.Deployment
		var err error
		switch {
		case f.Deployment != "":
			d, err := s.loadDeployment(ctx, tx, p.Account, f.Deployment)
			if err != nil {
				return err
			}
			ds = []*store.Deployment{d}
		case f.SourceARN != "":
			all, err := tx.Deploy().DeploymentsOf(ctx, f.SourceARN)
			if err != nil {
				return err
			}
			for _, d := range all {
				if d.Account == p.Account {
					ds = append(ds, d)
				}
			}
		default:
			if ds, err = tx.Deploy().ListDeployments(ctx, p.Account); err != nil {
				return err
			}
		}
		for _, d := range ds {
			if f.SourceARN != "" && d.SourceARN != f.SourceARN {
				continue
			}
			in, err := s.installations(ctx, tx, d, nil)
			if err != nil {
				return err
			}
			out = append(out, in...)
		}
		return nil
	})
	return out, err
}

// installations lists a deployment's targets or an agent's.
func (s *Deployments) installations(ctx context.Context, tx store.Tx, d *store.Deployment, a *store.Agent) ([]*Installation, error) {
	var targets []*store.DeployTarget
	var err error
	if d != nil {
		targets, err = tx.Deploy().TargetsOfDeployment(ctx, d.ID)
	} else {
		targets, err = tx.Deploy().TargetsOfAgent(ctx, a.ID)
	}
	if err != nil {
		return nil, err
	}
	out := []*Installation{}
	for _, t := range targets {
		dep, agent := d, a
		if dep == nil {
			if dep, err = tx.Deploy().GetDeploymentByID(ctx, t.DeploymentID); err != nil {
				continue
			}
		}
		if agent == nil {
			if agent, err = tx.Deploy().GetAgent(ctx, t.AgentID); err != nil {
				continue
			}
		}
		in := &Installation{Deployment: dep.Name, DeploymentARN: dep.ARN, SourceARN: dep.SourceARN, AgentID: t.AgentID,
			Hostname: agent.Hostname, AgentStatus: s.agentView(agent).Status, Serial: t.Installed, InstalledAt: t.InstalledAt,
			Status: t.Status, DesiredSerial: t.Serial, Attempts: t.Attempts, Message: t.Message, UpdatedAt: t.UpdatedAt}
		json.Unmarshal(t.Paths, &in.Paths)
		out = append(out, in)
	}
	return out, nil
}

// ReconcileAll brings every deployment's targets up to date: a source that
// renewed or rotated, an agent that enrolled or was retagged, an
// assignment whose agent went silent mid-way. It is the background job.
func (s *Deployments) ReconcileAll(ctx context.Context, fence scheduler.Fence) (int, error) {
	var ds []*store.Deployment
	err := s.store.View(ctx, func(tx store.Tx) (err error) { ds, err = tx.Deploy().ListDeployments(ctx, ""); return err })
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		if err := s.reconcile(ctx, fence, d.ID, false); err != nil {
			if errors.Is(err, store.ErrStale) && fence != nil {
				// A concurrent change, or the lease lost: only the second
				// ends the pass.
				if ferr := s.store.Update(ctx, func(tx store.Tx) error { return fence(tx) }); ferr != nil {
					return n, ferr
				}
			}
			s.log.Warn("deployment not reconciled", "deployment", d.ARN, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func (s *Deployments) reconcileAccount(ctx context.Context, account string) error {
	var ds []*store.Deployment
	err := s.store.View(ctx, func(tx store.Tx) (err error) { ds, err = tx.Deploy().ListDeployments(ctx, account); return err })
	if err != nil {
		return err
	}
	var errList []error
	for _, d := range ds {
		errList = append(errList, s.reconcile(ctx, nil, d.ID, false))
	}
	return errors.Join(errList...)
}

// sourceVersion reads the version (and serial) a deployment's source is
// at now. For a secret the serial is read only when the version changed.
func (s *Deployments) sourceVersion(ctx context.Context, d *store.Deployment) (version, serial string, err error) {
	role := serviceRole(d.Account)
	if isACM(d.SourceARN) {
		c, err := s.certs.Describe(ctx, role, d.SourceARN)
		if err != nil {
			return "", "", err
		}
		if c.Serial == "" || c.Status != "ISSUED" {
			return d.Version, d.Serial, nil // nothing (new) to deploy yet
		}
		n, ok := new(big.Int).SetString(strings.ReplaceAll(c.Serial, ":", ""), 16)
		if !ok {
			return "", "", errs.New(errs.Internal, "the serial %q of %s does not parse", c.Serial, d.SourceARN)
		}
		serial := pki.SerialHex(n)
		return serial, serial, nil
	}
	desc, err := s.secrets.Describe(ctx, role, d.SourceARN)
	if err != nil {
		return "", "", err
	}
	for v, stages := range desc.VersionsToStages {
		if slices.Contains(stages, "AWSCURRENT") {
			version = v
		}
	}
	if version == "" || version == d.Version {
		return d.Version, d.Serial, nil
	}
	val, err := s.secrets.Get(ctx, role, d.SourceARN, version, "")
	if err != nil {
		return "", "", err
	}
	b, err := parseBundle(val)
	if err != nil {
		return "", "", err
	}
	return version, b.serial, nil
}

// reconcile assigns a deployment's current source version to each agent
// it selects that does not hold (or is not already assigned) it; with
// force, to every selected agent. Assignments left IN_PROGRESS past their
// lease are offered again.
func (s *Deployments) reconcile(ctx context.Context, fence scheduler.Fence, id string, force bool) error {
	var d *store.Deployment
	err := s.store.View(ctx, func(tx store.Tx) (err error) { d, err = tx.Deploy().GetDeploymentByID(ctx, id); return err })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.clock.Now()
	version, serial, srcErr := s.sourceVersion(ctx, d)
	if srcErr != nil {
		// The deployment shows why its source cannot be deployed (a
		// rotation that wrote something else, a deleted certificate),
		// until it can again. The log gets it once per change.
		msg := "the source cannot be deployed: " + errs.Message(srcErr, "it could not be read (see the server log)")
		if msg == d.LastError {
			return nil
		}
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if fence != nil {
				if err := fence(tx); err != nil {
					return err
				}
			}
			cur, err := tx.Deploy().GetDeploymentByID(ctx, id)
			if err != nil {
				return err
			}
			cur.LastError, cur.UpdatedAt = msg, now
			return tx.Deploy().UpdateDeployment(ctx, cur)
		})
		return errors.Join(srcErr, err)
	}
	selector := decodeTags(d.Selector)
	return s.store.Update(ctx, func(tx store.Tx) error {
		if fence != nil {
			if err := fence(tx); err != nil {
				return err
			}
		}
		cur, err := tx.Deploy().GetDeploymentByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		// Compare and swap: a reconcile that read the source before another
		// one recorded a newer version must not write the older one back.
		changed := cur.LastError != ""
		cur.LastError = ""
		if version != "" && version != cur.Version && cur.Version == d.Version {
			cur.Version, cur.Serial, cur.UpdatedAt = version, serial, now
			changed = true
		}
		if changed {
			if err := tx.Deploy().UpdateDeployment(ctx, cur); err != nil {
				return err
			}
		}
		if cur.Version == "" {
			return nil // the source has nothing to deploy yet
		}
		if cur.TargetAccount != "" {
			// Another account's agents: only while it trusts this one.
			trusted, err := trusts(ctx, tx, cur.TargetAccount, cur.Account)
			if err != nil || !trusted {
				return err
			}
		}
		agents, err := tx.Deploy().ListAgents(ctx, targetAccount(cur))
		if err != nil {
			return err
		}
		targets, err := tx.Deploy().TargetsOfDeployment(ctx, id)
		if err != nil {
			return err
		}
		byAgent := map[string]*store.DeployTarget{}
		for _, t := range targets {
			byAgent[t.AgentID] = t
		}
		for _, a := range agents {
			if a.Status != AgentActive || !matches(decodeTags(a.Tags), selector) {
				continue
			}
			t := byAgent[a.ID]
			switch {
			case t == nil:
				t = &store.DeployTarget{DeploymentID: id, AgentID: a.ID, Account: cur.Account, CreatedAt: now}
			case force || t.Version != cur.Version:
			case t.Status == TargetInProgress && now.After(t.LeaseUntil):
				// The agent took it and went silent: offer it again.
				t.Status, t.Message, t.UpdatedAt = TargetPending, "offered again: the agent did not report within its lease", now
				if err := tx.Deploy().PutTarget(ctx, t); err != nil {
					return err
				}
				continue
			default:
				continue
			}
			t.Generation++
			t.Version, t.Serial, t.Status, t.Attempts, t.Message, t.UpdatedAt = cur.Version, cur.Serial, TargetPending, 0, "", now
			t.LeaseUntil = time.Time{}
			if err := tx.Deploy().PutTarget(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// Assignment is work for an agent: install a deployment's certificate.
type Assignment struct {
	DeploymentID string
	Deployment   string
	Account      string
	Generation   int64
	Serial       string
	Profile      Profile
}

// Pending returns the agent's assignments waiting to be installed. With
// touch it also records that the agent was seen (once per poll, not per
// look of a long poll).
func (s *Deployments) Pending(ctx context.Context, a *Agent, touch bool) ([]*Assignment, error) {
	now := s.clock.Now()
	var out []*Assignment
	look := func(tx store.Tx) error {
		targets, err := tx.Deploy().TargetsOfAgent(ctx, a.ID)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.Status != TargetPending && (t.Status != TargetInProgress || now.Before(t.LeaseUntil)) {
				continue
			}
			d, err := tx.Deploy().GetDeploymentByID(ctx, t.DeploymentID)
			if err != nil || !matches(a.Tags, decodeTags(d.Selector)) {
				continue
			}
			as := &Assignment{DeploymentID: d.ID, Deployment: d.Name, Account: d.Account, Generation: t.Generation, Serial: t.Serial}
			json.Unmarshal(d.Spec, &as.Profile)
			out = append(out, as)
		}
		return nil
	}
	// Last-seen is written at most every tenth of the stale period: a poll
	// is then a read, not a write, almost every time.
	if !touch || now.Sub(a.LastSeenAt) < s.opts.StaleAfter/10 {
		return out, s.store.View(ctx, look)
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		out = nil
		if err := tx.Deploy().TouchAgent(ctx, a.ID, now); err != nil {
			return err
		}
		return look(tx)
	})
	return out, err
}

// File is one file an agent writes.
type File struct {
	Path      string
	Content   []byte
	Mode      string // octal
	Sensitive bool   // a key, bundle or passphrase
}

// Material is what an agent installs for an assignment: the files,
// rendered in the profile's formats.
type Material struct {
	Assignment
	Files []File
}

// assigned returns the agent's target of a deployment, refusing an agent
// the deployment is not assigned to (its identity is checked, not what it
// asks for).
func assigned(ctx context.Context, tx store.Tx, a *Agent, deploymentID string, generation int64) (*store.DeployTarget, *store.Deployment, error) {
	notAssigned := errs.Coded(errs.Denied, CodeNotAssigned, "The deployment %s is not assigned to agent %s.", deploymentID, a.ID)
	t, err := tx.Deploy().GetTarget(ctx, deploymentID, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notAssigned
	}
	if err != nil {
		return nil, nil, err
	}
	d, err := tx.Deploy().GetDeploymentByID(ctx, deploymentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notAssigned
	}
	if err != nil {
		return nil, nil, err
	}
	// The agent must still be one the deployment selects: an agent
	// retagged out of it keeps its inventory row, not its access; another
	// account's agent only while that account trusts the deployment's.
	if a.Account != targetAccount(d) || !matches(a.Tags, decodeTags(d.Selector)) {
		return nil, nil, notAssigned
	}
	if d.TargetAccount != "" {
		if ok, err := trusts(ctx, tx, d.TargetAccount, d.Account); err != nil || !ok {
			return nil, nil, errors.Join(err, notAssigned)
		}
	}
	if t.Generation != generation {
		return nil, nil, errs.Coded(errs.Conflict, CodeGeneration, "Assignment %d of deployment %s was superseded by %d.", generation, deploymentID, t.Generation)
	}
	return t, d, nil
}

// Fetch hands an agent the files of its assignment and marks it
// IN_PROGRESS for the lease. The private key is read from the source by
// the deployment service now, never stored with the assignment.
func (s *Deployments) Fetch(ctx context.Context, a *Agent, deploymentID string, generation int64) (*Material, error) {
	var d *store.Deployment
	err := s.store.View(ctx, func(tx store.Tx) (err error) { _, d, err = assigned(ctx, tx, a, deploymentID, generation); return err })
	if err != nil {
		return nil, err
	}
	var prof Profile
	json.Unmarshal(d.Spec, &prof)
	files, b, err := s.material(ctx, d, a, prof)
	if err != nil {
		// The assignment cannot be served (the source is unreadable, the
		// bundle broken, the agent lacks the passphrase's tags): it fails
		// here, visibly, instead of being offered again at every poll.
		msg := "the material could not be prepared: " + errs.Message(err, "internal error (see the server log)")
		s.log.Warn("deployment material not prepared", "deployment", d.ARN, "agent", a.ID, "err", err)
		if ferr := s.Report(ctx, a, Report{DeploymentID: deploymentID, Generation: generation, Message: msg}); ferr != nil {
			s.log.Warn("recording a failed fetch", "deployment", d.ARN, "agent", a.ID, "err", ferr)
		}
		return nil, err
	}
	now := s.clock.Now()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, _, err := assigned(ctx, tx, a, deploymentID, generation)
		if err != nil {
			return err
		}
		t.Status, t.Serial, t.LeaseUntil, t.UpdatedAt = TargetInProgress, b.serial, now.Add(s.opts.AssignmentLease), now
		t.Attempts++
		return tx.Deploy().PutTarget(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("deployment material handed to agent", "deployment", d.ARN, "agent", a.ID, "serial", b.serial)
	m := &Material{Assignment: Assignment{DeploymentID: d.ID, Deployment: d.Name, Account: d.Account, Generation: generation,
		Serial: b.serial, Profile: prof}, Files: files}
	return m, nil
}

// material reads the source and renders the profile's files.
func (s *Deployments) material(ctx context.Context, d *store.Deployment, a *Agent, prof Profile) ([]File, *bundle, error) {
	b, err := s.readSource(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	var pass []byte
	if prof.KeyFormat != KeyPEM {
		if pass, err = s.passphrase(ctx, d, a); err != nil {
			return nil, nil, err
		}
	}
	files, err := render(prof, b, pass)
	clear(pass)
	return files, b, err
}

// readSource reads the certificate, chain and key of a deployment's
// source as the deployment service.
func (s *Deployments) readSource(ctx context.Context, d *store.Deployment) (*bundle, error) {
	role := serviceRole(d.Account)
	if isACM(d.SourceARN) {
		exp, err := s.certs.ExportKey(ctx, role, d.SourceARN)
		if err != nil {
			return nil, err
		}
		key := pki.EncodePEM("PRIVATE KEY", exp.PrivateKey)
		clear(exp.PrivateKey)
		serial, _, err := serialOf(exp.Certificate)
		if err != nil {
			return nil, err
		}
		return &bundle{cert: exp.Certificate, chain: exp.Chain, key: key, serial: serial}, nil
	}
	v, err := s.secrets.Get(ctx, role, d.SourceARN, "", "")
	if err != nil {
		return nil, err
	}
	return parseBundle(v)
}

// passphrase reads a deployment's key passphrase for an agent whose tags
// carry every tag of the passphrase secret (but Sigil's own).
func (s *Deployments) passphrase(ctx context.Context, d *store.Deployment, a *Agent) ([]byte, error) {
	if d.Passphrase == "" {
		return nil, errs.New(errs.Internal, "the deployment %s has no passphrase secret", d.ARN)
	}
	role := serviceRole(d.Account)
	desc, err := s.secrets.Describe(ctx, role, d.Passphrase)
	if err != nil {
		return nil, err
	}
	for _, t := range desc.Tags {
		if strings.HasPrefix(t.Key, "sigil:") {
			continue
		}
		if a.Tags[t.Key] != t.Value {
			return nil, errs.Coded(errs.Denied, "AccessDeniedException", "Agent %s does not carry the tag %s=%s of the key passphrase's secret.", a.ID, t.Key, t.Value)
		}
	}
	v, err := s.secrets.Get(ctx, role, d.Passphrase, "", "")
	if err != nil {
		return nil, err
	}
	if v.Value.String == nil {
		return nil, errs.New(errs.Internal, "the passphrase secret of %s is binary", d.ARN)
	}
	return []byte(*v.Value.String), nil
}

// Report is an agent's result for an assignment.
type Report struct {
	DeploymentID string
	Generation   int64
	Succeeded    bool
	ServedSerial string // what the verification handshake saw
	Message      string
	Paths        []string
}

// Report records an agent's result. Success is recorded only when the
// serial the agent saw served is the one assigned: a target that did not
// verify is never SUCCEEDED. Either way an event is published.
func (s *Deployments) Report(ctx context.Context, a *Agent, r Report) error {
	if len(r.Message) > 1024 {
		r.Message = r.Message[:1024]
	}
	now := s.clock.Now()
	return s.store.Update(ctx, func(tx store.Tx) error {
		t, d, err := assigned(ctx, tx, a, r.DeploymentID, r.Generation)
		if err != nil {
			return err
		}
		served := strings.ToLower(strings.TrimLeft(r.ServedSerial, "0"))
		ok := r.Succeeded && served != "" && served == strings.TrimLeft(t.Serial, "0")
		if r.Succeeded && !ok {
			r.Message = fmt.Sprintf("the agent reported success but the served serial %q is not the assigned %s", r.ServedSerial, t.Serial)
		}
		paths, _ := json.Marshal(r.Paths)
		t.Message, t.UpdatedAt, t.LeaseUntil = r.Message, now, time.Time{}
		if ok {
			t.Status, t.Installed, t.InstalledAt, t.Paths = TargetSucceeded, t.Serial, now, paths
		} else {
			t.Status = TargetFailed
			if len(r.Paths) > 0 && t.Installed == "" {
				t.Paths = paths
			}
		}
		if err := tx.Deploy().PutTarget(ctx, t); err != nil {
			return err
		}
		s.log.Info("deployment reported", "deployment", d.ARN, "agent", a.ID, "status", t.Status, "serial", t.Serial, "message", t.Message)
		return events.Publish(ctx, tx, EventSource, "Sigil Deployment State Change", d.Account, s.region, now,
			[]string{d.ARN, d.SourceARN, s.arn(a.Account, "agent/"+a.ID)},
			map[string]any{"deployment": d.Name, "agentId": a.ID, "hostname": a.Hostname, "status": t.Status,
				"serial": t.Serial, "installedSerial": t.Installed, "message": t.Message, "paths": r.Paths, "generation": t.Generation})
	})
}

// errStateInUse is a refusal because something still uses a resource.
func errStateInUse(format string, args ...any) error {
	return errs.Coded(errs.State, CodeInUse, format, args...)
}

// targetAccount is the account whose agents a deployment selects.
func targetAccount(d *store.Deployment) string {
	if d.TargetAccount != "" {
		return d.TargetAccount
	}
	return d.Account
}

const settingTrusted = "deploy.trusted-accounts"

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// trusts reports whether account allows deployments from other.
func trusts(ctx context.Context, tx store.Tx, account, other string) (bool, error) {
	v, err := tx.AccountSettings().Get(ctx, account, settingTrusted)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.Contains(strings.Split(v, ","), other), nil
}

// PutTrust sets the accounts whose deployments may select the caller's
// account's agents (none: only its own). Removing an account stops its
// deployments from assigning or serving material to these agents at once.
func (s *Deployments) PutTrust(ctx context.Context, p iam.Principal, accounts []string) error {
	if err := s.authorize(ctx, p, "PutDeploymentTrust", s.arn(p.Account, "trust")); err != nil {
		return err
	}
	seen := map[string]bool{}
	var list []string
	for _, a := range accounts {
		if !accountRE.MatchString(a) {
			return invalid("%q is not a 12-digit account ID.", a)
		}
		if !seen[a] && a != p.Account {
			seen[a] = true
			list = append(list, a)
		}
	}
	if len(list) > 100 {
		return invalid("At most 100 accounts may be trusted.")
	}
	slices.Sort(list)
	return s.store.Update(ctx, func(tx store.Tx) error {
		return tx.AccountSettings().Put(ctx, p.Account, settingTrusted, strings.Join(list, ","))
	})
}

// GetTrust returns the accounts the caller's account trusts for
// deployments.
func (s *Deployments) GetTrust(ctx context.Context, p iam.Principal) ([]string, error) {
	if err := s.authorize(ctx, p, "GetDeploymentTrust", s.arn(p.Account, "trust")); err != nil {
		return nil, err
	}
	out := []string{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		v, err := tx.AccountSettings().Get(ctx, p.Account, settingTrusted)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if v != "" {
			out = strings.Split(v, ",")
		}
		return err
	})
	return out, err
}
