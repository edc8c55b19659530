package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// ---- certificate deployment: tokens, agents, profiles, deployments, targets ----

const (
	deployTokenColumns = `id, account_id, hash, tags, description, created_by, created_at, expires_at, used_at, used_by`
	deployAgentColumns = `id, account_id, hostname, tags, token_id, cert_serial, prev_serial, cert_not_after, agent_version,
		status, created_at, last_seen_at, row_version`
	deployProfileColumns = `account_id, name, spec, created_at, updated_at`
	deploymentColumns    = `id, account_id, name, arn, source_arn, selector, profile, spec, passphrase, version, serial,
		status, created_by, created_at, updated_at, row_version, target_account, last_error`
	deployTargetColumns = `deployment_id, agent_id, account_id, generation, version, serial, status, attempts, message,
		lease_until, installed, installed_at, paths, created_at, updated_at`
)

var (
	qDeployTokenInsert = register(`INSERT INTO deploy_tokens (` + deployTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qDeployTokenGet    = register(`SELECT ` + deployTokenColumns + ` FROM deploy_tokens WHERE id = ?`)
	qDeployTokenUse    = register(`UPDATE deploy_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL`)
	qDeployTokenExists = register(`SELECT 1 FROM deploy_tokens WHERE id = ?`)
	qDeployTokenList   = register(`SELECT ` + deployTokenColumns + ` FROM deploy_tokens WHERE account_id = ?
		ORDER BY created_at DESC, id DESC`)
	qDeployTokenDelete = register(`DELETE FROM deploy_tokens WHERE id = ?`)

	qDeployAgentInsert = register(`INSERT INTO deploy_agents (` + deployAgentColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	qDeployAgentGet    = register(`SELECT ` + deployAgentColumns + ` FROM deploy_agents WHERE id = ?`)
	qDeployAgentUpdate = register(`UPDATE deploy_agents SET hostname = ?, tags = ?, token_id = ?, cert_serial = ?,
		prev_serial = ?, cert_not_after = ?, agent_version = ?, status = ?, last_seen_at = ?, row_version = row_version + 1
		WHERE id = ? AND row_version = ?`)
	qDeployAgentExists = register(`SELECT 1 FROM deploy_agents WHERE id = ?`)
	qDeployAgentTouch  = register(`UPDATE deploy_agents SET last_seen_at = ? WHERE id = ?`)
	qDeployAgentList   = register(`SELECT ` + deployAgentColumns + ` FROM deploy_agents WHERE account_id = ? ORDER BY id`)
	qDeployAgentAll    = register(`SELECT ` + deployAgentColumns + ` FROM deploy_agents ORDER BY account_id, id`)
	qDeployTargetCount = register(`SELECT status, COUNT(*) FROM deploy_targets GROUP BY status`)

	qDeployProfilePut = register(`INSERT INTO deploy_profiles (` + deployProfileColumns + `) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`)
	qDeployProfileGet    = register(`SELECT ` + deployProfileColumns + ` FROM deploy_profiles WHERE account_id = ? AND name = ?`)
	qDeployProfileList   = register(`SELECT ` + deployProfileColumns + ` FROM deploy_profiles WHERE account_id = ? ORDER BY name`)
	qDeployProfileDelete = register(`DELETE FROM deploy_profiles WHERE account_id = ? AND name = ?`)
	qDeployProfileInUse  = register(`SELECT COUNT(*) FROM deployments WHERE account_id = ? AND profile = ?`)

	qDeploymentInsert = register(`INSERT INTO deployments (` + deploymentColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`)
	qDeploymentGet     = register(`SELECT ` + deploymentColumns + ` FROM deployments WHERE account_id = ? AND name = ?`)
	qDeploymentGetByID = register(`SELECT ` + deploymentColumns + ` FROM deployments WHERE id = ?`)
	qDeploymentUpdate  = register(`UPDATE deployments SET source_arn = ?, selector = ?, profile = ?, spec = ?, passphrase = ?,
		version = ?, serial = ?, status = ?, updated_at = ?, last_error = ?, row_version = row_version + 1 WHERE id = ? AND row_version = ?`)
	qDeploymentExists  = register(`SELECT 1 FROM deployments WHERE id = ?`)
	qDeploymentList    = register(`SELECT ` + deploymentColumns + ` FROM deployments WHERE account_id = ? ORDER BY name`)
	qDeploymentListAll = register(`SELECT ` + deploymentColumns + ` FROM deployments ORDER BY account_id, name`)
	qDeploymentsOf     = register(`SELECT ` + deploymentColumns + ` FROM deployments WHERE source_arn = ? ORDER BY account_id, name`)
	qDeploymentDelete  = register(`DELETE FROM deployments WHERE id = ?`)

	qDeployTargetPut = register(`INSERT INTO deploy_targets (` + deployTargetColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (deployment_id, agent_id) DO UPDATE SET account_id = excluded.account_id, generation = excluded.generation,
		version = excluded.version, serial = excluded.serial, status = excluded.status, attempts = excluded.attempts,
		message = excluded.message, lease_until = excluded.lease_until, installed = excluded.installed,
		installed_at = excluded.installed_at, paths = excluded.paths, updated_at = excluded.updated_at`)
	qDeployTargetGet = register(`SELECT ` + deployTargetColumns + ` FROM deploy_targets
		WHERE deployment_id = ? AND agent_id = ?`)
	qDeployTargetsOfDeployment = register(`SELECT ` + deployTargetColumns + ` FROM deploy_targets
		WHERE deployment_id = ? ORDER BY agent_id`)
	qDeployTargetsOfAgent = register(`SELECT ` + deployTargetColumns + ` FROM deploy_targets
		WHERE agent_id = ? ORDER BY deployment_id`)
	qDeployTargetDelete           = register(`DELETE FROM deploy_targets WHERE deployment_id = ? AND agent_id = ?`)
	qDeployTargetDeleteDeployment = register(`DELETE FROM deploy_targets WHERE deployment_id = ?`)
)

type deployRepo struct{ t *tx }

func (t *tx) Deploy() store.Deploy { return deployRepo{t} }

type scanner interface{ Scan(...any) error }

// scanAll collects the rows of a listing.
func scanAll[T any](t *tx, what string, scan func(scanner) (*T, error), rows *sql.Rows, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, t.s.classify(err, what)
		}
		out = append(out, x)
	}
	return out, t.s.classify(rows.Err(), what)
}

// ---- tokens ----

func scanDeployToken(sc scanner) (*store.AgentToken, error) {
	var k store.AgentToken
	var created, expires, used sql.NullInt64
	if err := sc.Scan(&k.ID, &k.Account, &k.Hash, &k.Tags, &k.Description, &k.CreatedBy, &created, &expires, &used,
		&k.UsedBy); err != nil {
		return nil, err
	}
	k.CreatedAt, k.ExpiresAt, k.UsedAt = fromTm(created), fromTm(expires), fromTm(used)
	return &k, nil
}

func (r deployRepo) InsertToken(ctx context.Context, k *store.AgentToken) error {
	_, err := r.t.exec(ctx, "insert enrolment token", qDeployTokenInsert, k.ID, k.Account, k.Hash, nullBytes(k.Tags),
		k.Description, k.CreatedBy, tm(k.CreatedAt), tm(k.ExpiresAt), tm(k.UsedAt), k.UsedBy)
	return err
}

func (r deployRepo) GetToken(ctx context.Context, id string) (*store.AgentToken, error) {
	k, err := scanDeployToken(r.t.queryRow(ctx, qDeployTokenGet, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get enrolment token")
	}
	return k, nil
}

// UseToken is one conditional UPDATE, so of two enrolments racing for a
// token exactly one changes the row; the other finds it used (ErrStale).
func (r deployRepo) UseToken(ctx context.Context, id, agent string, at time.Time) error {
	if at.IsZero() {
		// A NULL used_at would leave the token usable.
		return errs.New(errs.Internal, "use enrolment token: no time of use")
	}
	res, err := r.t.exec(ctx, "use enrolment token", qDeployTokenUse, tm(at), agent, id)
	if err != nil {
		return err
	}
	return r.t.checkUpdated(ctx, res, "use enrolment token", qDeployTokenExists, id)
}

func (r deployRepo) ListTokens(ctx context.Context, account string) ([]*store.AgentToken, error) {
	rows, err := r.t.query(ctx, "list enrolment tokens", qDeployTokenList, account)
	return scanAll(r.t, "list enrolment tokens", scanDeployToken, rows, err)
}

func (r deployRepo) DeleteToken(ctx context.Context, id string) error {
	return r.t.execOne(ctx, "delete enrolment token", qDeployTokenDelete, id)
}

// ---- agents ----

func scanDeployAgent(sc scanner) (*store.Agent, error) {
	var a store.Agent
	var notAfter, created, seen sql.NullInt64
	if err := sc.Scan(&a.ID, &a.Account, &a.Hostname, &a.Tags, &a.TokenID, &a.CertSerial, &a.PrevSerial, &notAfter,
		&a.AgentVersion, &a.Status, &created, &seen, &a.RowVersion); err != nil {
		return nil, err
	}
	a.CertNotAfter, a.CreatedAt, a.LastSeenAt = fromTm(notAfter), fromTm(created), fromTm(seen)
	return &a, nil
}

func (r deployRepo) InsertAgent(ctx context.Context, a *store.Agent) error {
	_, err := r.t.exec(ctx, "insert agent", qDeployAgentInsert, a.ID, a.Account, a.Hostname, nullBytes(a.Tags), a.TokenID,
		a.CertSerial, a.PrevSerial, tm(a.CertNotAfter), a.AgentVersion, a.Status, tm(a.CreatedAt), tm(a.LastSeenAt))
	if err != nil {
		return err
	}
	a.RowVersion = 1
	return nil
}

func (r deployRepo) GetAgent(ctx context.Context, id string) (*store.Agent, error) {
	a, err := scanDeployAgent(r.t.queryRow(ctx, qDeployAgentGet, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get agent")
	}
	return a, nil
}

func (r deployRepo) UpdateAgent(ctx context.Context, a *store.Agent) error {
	res, err := r.t.exec(ctx, "update agent", qDeployAgentUpdate, a.Hostname, nullBytes(a.Tags), a.TokenID, a.CertSerial,
		a.PrevSerial, tm(a.CertNotAfter), a.AgentVersion, a.Status, tm(a.LastSeenAt), a.ID, a.RowVersion)
	if err != nil {
		return err
	}
	if err := r.t.checkUpdated(ctx, res, "update agent", qDeployAgentExists, a.ID); err != nil {
		return err
	}
	a.RowVersion++
	return nil
}

func (r deployRepo) TouchAgent(ctx context.Context, id string, at time.Time) error {
	return r.t.execOne(ctx, "touch agent", qDeployAgentTouch, tm(at), id)
}

func (r deployRepo) ListAgents(ctx context.Context, account string) ([]*store.Agent, error) {
	var rows *sql.Rows
	var err error
	if account == "" {
		rows, err = r.t.query(ctx, "list agents", qDeployAgentAll)
	} else {
		rows, err = r.t.query(ctx, "list agents", qDeployAgentList, account)
	}
	return scanAll(r.t, "list agents", scanDeployAgent, rows, err)
}

func (r deployRepo) CountTargets(ctx context.Context) (map[string]int, error) {
	return r.t.countBy(ctx, "count deployment targets", qDeployTargetCount)
}

// ---- profiles ----

func scanDeployProfile(sc scanner) (*store.DeployProfile, error) {
	var p store.DeployProfile
	var created, updated sql.NullInt64
	if err := sc.Scan(&p.Account, &p.Name, &p.Spec, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromTm(created), fromTm(updated)
	return &p, nil
}

// PutProfile inserts a profile or replaces its spec and UpdatedAt; a
// replaced profile keeps its CreatedAt.
func (r deployRepo) PutProfile(ctx context.Context, p *store.DeployProfile) error {
	_, err := r.t.exec(ctx, "put install profile", qDeployProfilePut, p.Account, p.Name, nullBytes(p.Spec),
		tm(p.CreatedAt), tm(p.UpdatedAt))
	return err
}

func (r deployRepo) GetProfile(ctx context.Context, account, name string) (*store.DeployProfile, error) {
	p, err := scanDeployProfile(r.t.queryRow(ctx, qDeployProfileGet, account, name))
	if err != nil {
		return nil, r.t.s.classify(err, "get install profile")
	}
	return p, nil
}

func (r deployRepo) ListProfiles(ctx context.Context, account string) ([]*store.DeployProfile, error) {
	rows, err := r.t.query(ctx, "list install profiles", qDeployProfileList, account)
	return scanAll(r.t, "list install profiles", scanDeployProfile, rows, err)
}

func (r deployRepo) DeleteProfile(ctx context.Context, account, name string) error {
	return r.t.execOne(ctx, "delete install profile", qDeployProfileDelete, account, name)
}

func (r deployRepo) ProfileInUse(ctx context.Context, account, name string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qDeployProfileInUse, account, name).Scan(&n)
	return n, r.t.s.classify(err, "count deployments of a profile")
}

// ---- deployments ----

func scanDeployment(sc scanner) (*store.Deployment, error) {
	var d store.Deployment
	var created, updated sql.NullInt64
	if err := sc.Scan(&d.ID, &d.Account, &d.Name, &d.ARN, &d.SourceARN, &d.Selector, &d.Profile, &d.Spec, &d.Passphrase,
		&d.Version, &d.Serial, &d.Status, &d.CreatedBy, &created, &updated, &d.RowVersion, &d.TargetAccount, &d.LastError); err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = fromTm(created), fromTm(updated)
	return &d, nil
}

func (r deployRepo) InsertDeployment(ctx context.Context, d *store.Deployment) error {
	_, err := r.t.exec(ctx, "insert deployment", qDeploymentInsert, d.ID, d.Account, d.Name, d.ARN, d.SourceARN,
		nullBytes(d.Selector), d.Profile, nullBytes(d.Spec), d.Passphrase, d.Version, d.Serial, d.Status, d.CreatedBy,
		tm(d.CreatedAt), tm(d.UpdatedAt), d.TargetAccount, d.LastError)
	if err != nil {
		return err
	}
	d.RowVersion = 1
	return nil
}

func (r deployRepo) GetDeployment(ctx context.Context, account, name string) (*store.Deployment, error) {
	d, err := scanDeployment(r.t.queryRow(ctx, qDeploymentGet, account, name))
	if err != nil {
		return nil, r.t.s.classify(err, "get deployment")
	}
	return d, nil
}

func (r deployRepo) GetDeploymentByID(ctx context.Context, id string) (*store.Deployment, error) {
	d, err := scanDeployment(r.t.queryRow(ctx, qDeploymentGetByID, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get deployment")
	}
	return d, nil
}

// UpdateDeployment writes everything but the identity of a deployment (ID,
// Account, Name, ARN) and who created it when.
func (r deployRepo) UpdateDeployment(ctx context.Context, d *store.Deployment) error {
	res, err := r.t.exec(ctx, "update deployment", qDeploymentUpdate, d.SourceARN, nullBytes(d.Selector), d.Profile,
		nullBytes(d.Spec), d.Passphrase, d.Version, d.Serial, d.Status, tm(d.UpdatedAt), d.LastError, d.ID, d.RowVersion)
	if err != nil {
		return err
	}
	if err := r.t.checkUpdated(ctx, res, "update deployment", qDeploymentExists, d.ID); err != nil {
		return err
	}
	d.RowVersion++
	return nil
}

func (r deployRepo) ListDeployments(ctx context.Context, account string) ([]*store.Deployment, error) {
	var rows *sql.Rows
	var err error
	if account == "" {
		rows, err = r.t.query(ctx, "list deployments", qDeploymentListAll)
	} else {
		rows, err = r.t.query(ctx, "list deployments", qDeploymentList, account)
	}
	return scanAll(r.t, "list deployments", scanDeployment, rows, err)
}

func (r deployRepo) DeploymentsOf(ctx context.Context, sourceARN string) ([]*store.Deployment, error) {
	rows, err := r.t.query(ctx, "list deployments of a source", qDeploymentsOf, sourceARN)
	return scanAll(r.t, "list deployments of a source", scanDeployment, rows, err)
}

func (r deployRepo) DeleteDeployment(ctx context.Context, id string) error {
	if _, err := r.t.exec(ctx, "delete deployment targets", qDeployTargetDeleteDeployment, id); err != nil {
		return err
	}
	return r.t.execOne(ctx, "delete deployment", qDeploymentDelete, id)
}

// ---- targets ----

func scanDeployTarget(sc scanner) (*store.DeployTarget, error) {
	var x store.DeployTarget
	var lease, installed, created, updated sql.NullInt64
	if err := sc.Scan(&x.DeploymentID, &x.AgentID, &x.Account, &x.Generation, &x.Version, &x.Serial, &x.Status,
		&x.Attempts, &x.Message, &lease, &x.Installed, &installed, &x.Paths, &created, &updated); err != nil {
		return nil, err
	}
	x.LeaseUntil, x.InstalledAt, x.CreatedAt, x.UpdatedAt = fromTm(lease), fromTm(installed), fromTm(created), fromTm(updated)
	return &x, nil
}

// PutTarget inserts a target or replaces all of it but its CreatedAt.
func (r deployRepo) PutTarget(ctx context.Context, x *store.DeployTarget) error {
	_, err := r.t.exec(ctx, "put deployment target", qDeployTargetPut, x.DeploymentID, x.AgentID, x.Account,
		x.Generation, x.Version, x.Serial, x.Status, x.Attempts, x.Message, tm(x.LeaseUntil), x.Installed,
		tm(x.InstalledAt), nullBytes(x.Paths), tm(x.CreatedAt), tm(x.UpdatedAt))
	return err
}

func (r deployRepo) GetTarget(ctx context.Context, deploymentID, agentID string) (*store.DeployTarget, error) {
	x, err := scanDeployTarget(r.t.queryRow(ctx, qDeployTargetGet, deploymentID, agentID))
	if err != nil {
		return nil, r.t.s.classify(err, "get deployment target")
	}
	return x, nil
}

func (r deployRepo) TargetsOfDeployment(ctx context.Context, deploymentID string) ([]*store.DeployTarget, error) {
	rows, err := r.t.query(ctx, "list deployment targets", qDeployTargetsOfDeployment, deploymentID)
	return scanAll(r.t, "list deployment targets", scanDeployTarget, rows, err)
}

func (r deployRepo) TargetsOfAgent(ctx context.Context, agentID string) ([]*store.DeployTarget, error) {
	rows, err := r.t.query(ctx, "list agent targets", qDeployTargetsOfAgent, agentID)
	return scanAll(r.t, "list agent targets", scanDeployTarget, rows, err)
}

func (r deployRepo) DeleteTarget(ctx context.Context, deploymentID, agentID string) error {
	return r.t.execOne(ctx, "delete deployment target", qDeployTargetDelete, deploymentID, agentID)
}
