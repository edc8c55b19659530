package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

const (
	ruleColumns        = `account_id, name, arn, pattern, state, description, created_at, updated_at`
	connectionColumns  = `account_id, name, arn, auth_type, auth, info, created_at, updated_at`
	destinationColumns = `account_id, name, arn, connection_arn, endpoint, method, rate_limit, created_at, updated_at`
	deliveryColumns    = `id, event_id, account_id, rule_arn, target_id, target_arn, body, status, attempts, max_attempts,
		expires_at, next_at, last_error, last_status, created_at, delivered_at`
)

var (
	qRulePut = register(`INSERT INTO event_rules (` + ruleColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, name) DO UPDATE SET pattern = excluded.pattern, state = excluded.state,
		description = excluded.description, updated_at = excluded.updated_at`)
	qRuleGet     = register(`SELECT ` + ruleColumns + ` FROM event_rules WHERE account_id = ? AND name = ?`)
	qRuleList    = register(`SELECT ` + ruleColumns + ` FROM event_rules WHERE account_id = ? AND name >= ? AND name < ? AND name > ? ORDER BY name LIMIT ?`)
	qRuleEnabled = register(`SELECT ` + ruleColumns + ` FROM event_rules WHERE state = 'ENABLED' ORDER BY account_id, name`)
	qRuleDelete  = register(`DELETE FROM event_rules WHERE account_id = ? AND name = ?`)
	qTargetPut   = register(`INSERT INTO event_targets (account_id, rule_name, target_id, arn, config) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, rule_name, target_id) DO UPDATE SET arn = excluded.arn, config = excluded.config`)
	qTargetList     = register(`SELECT account_id, rule_name, target_id, arn, config FROM event_targets WHERE account_id = ? AND rule_name = ? ORDER BY target_id`)
	qTargetDelete   = register(`DELETE FROM event_targets WHERE account_id = ? AND rule_name = ? AND target_id = ?`)
	qRuleGenGet     = register(`SELECT value FROM meta WHERE key = 'event_rules_generation'`)
	qConnInsert     = register(`INSERT INTO event_connections (` + connectionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qConnGet        = register(`SELECT ` + connectionColumns + ` FROM event_connections WHERE arn = ?`)
	qConnList       = register(`SELECT ` + connectionColumns + ` FROM event_connections WHERE account_id = ? ORDER BY name`)
	qConnDelete     = register(`DELETE FROM event_connections WHERE arn = ?`)
	qDestInsert     = register(`INSERT INTO event_destinations (` + destinationColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qDestGet        = register(`SELECT ` + destinationColumns + ` FROM event_destinations WHERE arn = ?`)
	qDestList       = register(`SELECT ` + destinationColumns + ` FROM event_destinations WHERE account_id = ? ORDER BY name`)
	qDestDelete     = register(`DELETE FROM event_destinations WHERE arn = ?`)
	qDestUsing      = register(`SELECT COUNT(*) FROM event_destinations WHERE connection_arn = ?`)
	qDeliveryInsert = register(`INSERT INTO event_deliveries (` + deliveryColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, rule_arn, target_id) DO NOTHING`)
	qDeliveryDue = register(`SELECT ` + deliveryColumns + ` FROM event_deliveries
		WHERE status = 'PENDING' AND next_at <= ? ORDER BY next_at LIMIT ?`)
	qDeliveryUpdate = register(`UPDATE event_deliveries SET status = ?, attempts = ?, next_at = ?, last_error = ?, last_status = ?,
		delivered_at = ? WHERE id = ?`)
	qDeliveryCounts  = register(`SELECT status, COUNT(*) FROM event_deliveries GROUP BY status`)
	qDeliveryRedrive = register(`UPDATE event_deliveries SET status = 'PENDING', attempts = 0, next_at = ?, expires_at = ?, last_error = ''
		WHERE account_id = ? AND status = 'FAILED' AND (event_id = ? OR ? = '')`)
	qDeliveryPurge = register(`DELETE FROM event_deliveries WHERE id IN
		(SELECT id FROM event_deliveries WHERE status = ? AND status <> 'PENDING' AND created_at < ? LIMIT ?)`)
	qDeliveryList       = register(`SELECT ` + deliveryColumns + ` FROM event_deliveries WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?`)
	qDeliveryListStatus = register(`SELECT ` + deliveryColumns + ` FROM event_deliveries WHERE account_id = ? AND status = ? ORDER BY created_at DESC, id LIMIT ?`)
)

type ruleRepo struct{ t *tx }

func (t *tx) EventRules() store.EventRules { return ruleRepo{t} }

func scanRule(sc interface{ Scan(...any) error }) (*store.EventRule, error) {
	var r store.EventRule
	var created, updated sql.NullInt64
	if err := sc.Scan(&r.Account, &r.Name, &r.ARN, &r.Pattern, &r.State, &r.Description, &created, &updated); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromTm(created), fromTm(updated)
	return &r, nil
}

func (r ruleRepo) rules(rows *sql.Rows, err error) ([]*store.EventRule, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EventRule
	for rows.Next() {
		x, err := scanRule(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "scan rule")
		}
		out = append(out, x)
	}
	return out, r.t.s.classify(rows.Err(), "list rules")
}

func (r ruleRepo) PutRule(ctx context.Context, x *store.EventRule) error {
	_, err := r.t.exec(ctx, "put rule", qRulePut, x.Account, x.Name, x.ARN, x.Pattern, x.State, x.Description, tm(x.CreatedAt), tm(x.UpdatedAt))
	return err
}

func (r ruleRepo) GetRule(ctx context.Context, account, name string) (*store.EventRule, error) {
	x, err := scanRule(r.t.queryRow(ctx, qRuleGet, account, name))
	if err != nil {
		return nil, r.t.s.classify(err, "get rule")
	}
	return x, nil
}

func (r ruleRepo) ListRules(ctx context.Context, account, prefix, after string, limit int) ([]*store.EventRule, error) {
	// Names are [.\-_A-Za-z0-9]+, so prefix + "\x7f" bounds the prefix range.
	return r.rules(r.t.query(ctx, "list rules", qRuleList, account, prefix, prefix+"\x7f", after, limit))
}

func (r ruleRepo) EnabledRules(ctx context.Context) ([]*store.EventRule, error) {
	return r.rules(r.t.query(ctx, "list enabled rules", qRuleEnabled))
}

func (r ruleRepo) DeleteRule(ctx context.Context, account, name string) error {
	return r.t.execOne(ctx, "delete rule", qRuleDelete, account, name)
}

func (r ruleRepo) PutTarget(ctx context.Context, x *store.EventTarget) error {
	_, err := r.t.exec(ctx, "put target", qTargetPut, x.Account, x.Rule, x.ID, x.ARN, x.Config)
	return err
}

func (r ruleRepo) Targets(ctx context.Context, account, rule string) ([]*store.EventTarget, error) {
	rows, err := r.t.query(ctx, "list targets", qTargetList, account, rule)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EventTarget
	for rows.Next() {
		var x store.EventTarget
		if err := rows.Scan(&x.Account, &x.Rule, &x.ID, &x.ARN, &x.Config); err != nil {
			return nil, r.t.s.classify(err, "scan target")
		}
		out = append(out, &x)
	}
	return out, r.t.s.classify(rows.Err(), "list targets")
}

func (r ruleRepo) DeleteTarget(ctx context.Context, account, rule, id string) error {
	return r.t.execOne(ctx, "delete target", qTargetDelete, account, rule, id)
}

func (r ruleRepo) Generation(ctx context.Context) (int64, error) {
	var v string
	if err := r.t.queryRow(ctx, qRuleGenGet).Scan(&v); errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, r.t.s.classify(err, "get rules generation")
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n, nil
}

func (r ruleRepo) BumpGeneration(ctx context.Context) error {
	n, err := r.Generation(ctx)
	if err != nil {
		return err
	}
	_, err = r.t.exec(ctx, "bump rules generation", qMetaPut, "event_rules_generation", strconv.FormatInt(n+1, 10))
	return err
}

func scanConnection(sc interface{ Scan(...any) error }) (*store.EventConnection, error) {
	var c store.EventConnection
	var created, updated sql.NullInt64
	if err := sc.Scan(&c.Account, &c.Name, &c.ARN, &c.AuthType, &c.Auth, &c.Info, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromTm(created), fromTm(updated)
	return &c, nil
}

func (r ruleRepo) PutConnection(ctx context.Context, c *store.EventConnection) error {
	_, err := r.t.exec(ctx, "insert connection", qConnInsert, c.Account, c.Name, c.ARN, c.AuthType, c.Auth, c.Info, tm(c.CreatedAt), tm(c.UpdatedAt))
	return err
}

func (r ruleRepo) GetConnection(ctx context.Context, arn string) (*store.EventConnection, error) {
	c, err := scanConnection(r.t.queryRow(ctx, qConnGet, arn))
	if err != nil {
		return nil, r.t.s.classify(err, "get connection")
	}
	return c, nil
}

func (r ruleRepo) ListConnections(ctx context.Context, account string) ([]*store.EventConnection, error) {
	rows, err := r.t.query(ctx, "list connections", qConnList, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EventConnection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "scan connection")
		}
		out = append(out, c)
	}
	return out, r.t.s.classify(rows.Err(), "list connections")
}

func (r ruleRepo) DeleteConnection(ctx context.Context, arn string) error {
	return r.t.execOne(ctx, "delete connection", qConnDelete, arn)
}

func scanDestination(sc interface{ Scan(...any) error }) (*store.EventDestination, error) {
	var d store.EventDestination
	var created, updated sql.NullInt64
	if err := sc.Scan(&d.Account, &d.Name, &d.ARN, &d.ConnectionARN, &d.Endpoint, &d.Method, &d.RateLimit, &created, &updated); err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = fromTm(created), fromTm(updated)
	return &d, nil
}

func (r ruleRepo) PutDestination(ctx context.Context, d *store.EventDestination) error {
	_, err := r.t.exec(ctx, "insert API destination", qDestInsert, d.Account, d.Name, d.ARN, d.ConnectionARN, d.Endpoint, d.Method,
		d.RateLimit, tm(d.CreatedAt), tm(d.UpdatedAt))
	return err
}

func (r ruleRepo) GetDestination(ctx context.Context, arn string) (*store.EventDestination, error) {
	d, err := scanDestination(r.t.queryRow(ctx, qDestGet, arn))
	if err != nil {
		return nil, r.t.s.classify(err, "get API destination")
	}
	return d, nil
}

func (r ruleRepo) ListDestinations(ctx context.Context, account string) ([]*store.EventDestination, error) {
	rows, err := r.t.query(ctx, "list API destinations", qDestList, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EventDestination
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "scan API destination")
		}
		out = append(out, d)
	}
	return out, r.t.s.classify(rows.Err(), "list API destinations")
}

func (r ruleRepo) DeleteDestination(ctx context.Context, arn string) error {
	return r.t.execOne(ctx, "delete API destination", qDestDelete, arn)
}

func (r ruleRepo) DestinationsUsing(ctx context.Context, connectionARN string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qDestUsing, connectionARN).Scan(&n)
	return n, r.t.s.classify(err, "count API destinations")
}

func (r ruleRepo) InsertDelivery(ctx context.Context, d *store.EventDelivery) (bool, error) {
	res, err := r.t.exec(ctx, "insert delivery", qDeliveryInsert, d.ID, d.EventID, d.Account, d.RuleARN, d.TargetID, d.TargetARN,
		d.Body, d.Status, d.Attempts, d.MaxAttempts, tm(d.Expires), tm(d.NextAt), d.LastError, d.LastStatus, tm(d.CreatedAt), tm(d.DeliveredAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (r ruleRepo) deliveries(rows *sql.Rows, err error) ([]*store.EventDelivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EventDelivery
	for rows.Next() {
		var d store.EventDelivery
		var expires, next, created, delivered sql.NullInt64
		if err := rows.Scan(&d.ID, &d.EventID, &d.Account, &d.RuleARN, &d.TargetID, &d.TargetARN, &d.Body, &d.Status, &d.Attempts,
			&d.MaxAttempts, &expires, &next, &d.LastError, &d.LastStatus, &created, &delivered); err != nil {
			return nil, r.t.s.classify(err, "scan delivery")
		}
		d.Expires, d.NextAt, d.CreatedAt, d.DeliveredAt = fromTm(expires), fromTm(next), fromTm(created), fromTm(delivered)
		out = append(out, &d)
	}
	return out, r.t.s.classify(rows.Err(), "list deliveries")
}

func (r ruleRepo) DueDeliveries(ctx context.Context, t time.Time, limit int) ([]*store.EventDelivery, error) {
	return r.deliveries(r.t.query(ctx, "list due deliveries", qDeliveryDue, tm(t), limit))
}

func (r ruleRepo) UpdateDelivery(ctx context.Context, d *store.EventDelivery) error {
	return r.t.execOne(ctx, "update delivery", qDeliveryUpdate, d.Status, d.Attempts, tm(d.NextAt), d.LastError, d.LastStatus,
		tm(d.DeliveredAt), d.ID)
}

func (r ruleRepo) ListDeliveries(ctx context.Context, account, status string, limit int) ([]*store.EventDelivery, error) {
	if status == "" {
		return r.deliveries(r.t.query(ctx, "list deliveries", qDeliveryList, account, limit))
	}
	return r.deliveries(r.t.query(ctx, "list deliveries", qDeliveryListStatus, account, status, limit))
}

func (r ruleRepo) CountDeliveries(ctx context.Context) (map[string]int, error) {
	return r.t.countBy(ctx, "count deliveries", qDeliveryCounts)
}

func (r ruleRepo) PurgeDeliveries(ctx context.Context, status string, before time.Time, limit int) (int, error) {
	res, err := r.t.exec(ctx, "purge deliveries", qDeliveryPurge, status, tm(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (r ruleRepo) Redrive(ctx context.Context, account, eventID string, now, expires time.Time) (int, error) {
	res, err := r.t.exec(ctx, "redrive deliveries", qDeliveryRedrive, tm(now), tm(expires), account, eventID, eventID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
