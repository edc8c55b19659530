package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// ---- KMS keys ----

const kmsKeyColumns = `id, arn, account_id, description, key_manager, key_usage, key_spec, origin, state, policy,
	created_at, deletion_at, rotation_enabled, rotation_period_days, next_rotation_at, last_rotated_at,
	current_material, version`

var (
	qKMSInsert = register(`INSERT INTO kms_keys (` + kmsKeyColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	qKMSGet    = register(`SELECT ` + kmsKeyColumns + ` FROM kms_keys WHERE id = ?`)
	qKMSUpdate = register(`UPDATE kms_keys SET description = ?, state = ?, policy = ?, deletion_at = ?,
		rotation_enabled = ?, rotation_period_days = ?, next_rotation_at = ?, last_rotated_at = ?,
		current_material = ?, version = version + 1 WHERE id = ? AND version = ?`)
	qKMSExists          = register(`SELECT 1 FROM kms_keys WHERE id = ?`)
	qKMSList            = register(`SELECT ` + kmsKeyColumns + ` FROM kms_keys WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`)
	qKMSDelete          = register(`DELETE FROM kms_keys WHERE id = ?`)
	qKMSDeleteMaterials = register(`DELETE FROM kms_key_materials WHERE key_id = ?`)
	qKMSDeleteAliases   = register(`DELETE FROM kms_aliases WHERE target_key_id = ?`)
	qKMSDeletionDue     = register(`SELECT id FROM kms_keys WHERE deletion_at IS NOT NULL AND deletion_at <= ?
		ORDER BY deletion_at LIMIT ?`)
	qKMSRotationDue = register(`SELECT id FROM kms_keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?
		ORDER BY next_rotation_at LIMIT ?`)
	qKMSMaterialInsert = register(`INSERT INTO kms_key_materials (key_id, number, sealed, created_at) VALUES (?, ?, ?, ?)`)
	qKMSMaterialGet    = register(`SELECT key_id, number, sealed, created_at FROM kms_key_materials
		WHERE key_id = ? AND number = ?`)
	qKMSAliasInsert = register(`INSERT INTO kms_aliases (account_id, name, target_key_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)`)
	qKMSAliasUpdate = register(`UPDATE kms_aliases SET target_key_id = ?, updated_at = ? WHERE account_id = ? AND name = ?`)
	qKMSAliasGet    = register(`SELECT account_id, name, target_key_id, created_at, updated_at FROM kms_aliases
		WHERE account_id = ? AND name = ?`)
	qKMSAliasDelete = register(`DELETE FROM kms_aliases WHERE account_id = ? AND name = ?`)
	qKMSAliases     = register(`SELECT account_id, name, target_key_id, created_at, updated_at FROM kms_aliases
		WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`)
	qKMSAliasesOfKey = register(`SELECT account_id, name, target_key_id, created_at, updated_at FROM kms_aliases
		WHERE account_id = ? AND target_key_id = ? AND name > ? ORDER BY name LIMIT ?`)
)

type kmsRepo struct{ t *tx }

func (t *tx) KMSKeys() store.KMSKeys { return kmsRepo{t} }

func scanKMSKey(sc interface{ Scan(...any) error }) (*store.KMSKey, error) {
	var k store.KMSKey
	var created, deletion, next, last sql.NullInt64
	var rot int64
	if err := sc.Scan(&k.ID, &k.ARN, &k.Account, &k.Description, &k.KeyManager, &k.KeyUsage, &k.KeySpec, &k.Origin,
		&k.State, &k.Policy, &created, &deletion, &rot, &k.RotationPeriodDays, &next, &last, &k.CurrentMaterial,
		&k.Version); err != nil {
		return nil, err
	}
	k.CreatedAt, k.DeletionAt, k.NextRotationAt, k.LastRotatedAt = fromTm(created), fromTm(deletion), fromTm(next), fromTm(last)
	k.RotationEnabled = rot != 0
	return &k, nil
}

func (r kmsRepo) Insert(ctx context.Context, k *store.KMSKey) error {
	_, err := r.t.exec(ctx, "insert KMS key", qKMSInsert, k.ID, k.ARN, k.Account, k.Description, k.KeyManager,
		k.KeyUsage, k.KeySpec, k.Origin, k.State, k.Policy, tm(k.CreatedAt), tm(k.DeletionAt),
		boolInt(k.RotationEnabled), k.RotationPeriodDays, tm(k.NextRotationAt), tm(k.LastRotatedAt), k.CurrentMaterial)
	if err != nil {
		return err
	}
	k.Version = 1
	return nil
}

func (r kmsRepo) Get(ctx context.Context, id string) (*store.KMSKey, error) {
	k, err := scanKMSKey(r.t.queryRow(ctx, qKMSGet, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get KMS key")
	}
	return k, nil
}

func (r kmsRepo) Update(ctx context.Context, k *store.KMSKey) error {
	res, err := r.t.exec(ctx, "update KMS key", qKMSUpdate, k.Description, k.State, k.Policy, tm(k.DeletionAt),
		boolInt(k.RotationEnabled), k.RotationPeriodDays, tm(k.NextRotationAt), tm(k.LastRotatedAt),
		k.CurrentMaterial, k.ID, k.Version)
	if err != nil {
		return err
	}
	if err := r.t.checkUpdated(ctx, res, "update KMS key", qKMSExists, k.ID); err != nil {
		return err
	}
	k.Version++
	return nil
}

// checkUpdated turns an optimistic update that touched no row into
// ErrStale (the row exists) or ErrNotFound.
func (t *tx) checkUpdated(ctx context.Context, res sql.Result, what, existsQuery string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Wrap(err, what)
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := t.queryRow(ctx, existsQuery, args...).Scan(&one); err != nil {
		return t.s.classify(err, what)
	}
	return store.ErrStale
}

func (r kmsRepo) List(ctx context.Context, account, afterID string, limit int) ([]*store.KMSKey, error) {
	rows, err := r.t.query(ctx, "list KMS keys", qKMSList, account, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.KMSKey
	for rows.Next() {
		k, err := scanKMSKey(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list KMS keys")
		}
		out = append(out, k)
	}
	return out, r.t.s.classify(rows.Err(), "list KMS keys")
}

func (r kmsRepo) Delete(ctx context.Context, id string) error {
	for _, q := range []string{qKMSDeleteAliases, qKMSDeleteMaterials} {
		if _, err := r.t.exec(ctx, "delete KMS key", q, id); err != nil {
			return err
		}
	}
	return r.t.execOne(ctx, "delete KMS key", qKMSDelete, id)
}

func (r kmsRepo) DeletionDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list KMS key deletions due", qKMSDeletionDue, tm(now), limit)
}

func (r kmsRepo) RotationDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list KMS key rotations due", qKMSRotationDue, tm(now), limit)
}

// execOne runs a statement that must touch a row: ErrNotFound otherwise.
func (t *tx) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := t.exec(ctx, what, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Wrap(err, what)
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ids runs a query returning one string column.
func (t *tx) ids(ctx context.Context, what, q string, args ...any) ([]string, error) {
	rows, err := t.query(ctx, what, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, t.s.classify(err, what)
		}
		out = append(out, id)
	}
	return out, t.s.classify(rows.Err(), what)
}

func (r kmsRepo) AddMaterial(ctx context.Context, m *store.KMSMaterial) error {
	_, err := r.t.exec(ctx, "insert KMS key material", qKMSMaterialInsert, m.KeyID, m.Number, m.Sealed, tm(m.CreatedAt))
	return err
}

func (r kmsRepo) Material(ctx context.Context, keyID string, number int64) (*store.KMSMaterial, error) {
	var m store.KMSMaterial
	var created sql.NullInt64
	err := r.t.queryRow(ctx, qKMSMaterialGet, keyID, number).Scan(&m.KeyID, &m.Number, &m.Sealed, &created)
	if err != nil {
		return nil, r.t.s.classify(err, "get KMS key material")
	}
	m.CreatedAt = fromTm(created)
	return &m, nil
}

func scanAlias(sc interface{ Scan(...any) error }) (*store.KMSAlias, error) {
	var a store.KMSAlias
	var created, updated sql.NullInt64
	if err := sc.Scan(&a.Account, &a.Name, &a.TargetKeyID, &created, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromTm(created), fromTm(updated)
	return &a, nil
}

func (r kmsRepo) InsertAlias(ctx context.Context, a *store.KMSAlias) error {
	_, err := r.t.exec(ctx, "insert KMS alias", qKMSAliasInsert, a.Account, a.Name, a.TargetKeyID, tm(a.CreatedAt), tm(a.UpdatedAt))
	return err
}

func (r kmsRepo) UpdateAlias(ctx context.Context, a *store.KMSAlias) error {
	return r.t.execOne(ctx, "update KMS alias", qKMSAliasUpdate, a.TargetKeyID, tm(a.UpdatedAt), a.Account, a.Name)
}

func (r kmsRepo) GetAlias(ctx context.Context, account, name string) (*store.KMSAlias, error) {
	a, err := scanAlias(r.t.queryRow(ctx, qKMSAliasGet, account, name))
	if err != nil {
		return nil, r.t.s.classify(err, "get KMS alias")
	}
	return a, nil
}

func (r kmsRepo) DeleteAlias(ctx context.Context, account, name string) error {
	return r.t.execOne(ctx, "delete KMS alias", qKMSAliasDelete, account, name)
}

func (r kmsRepo) Aliases(ctx context.Context, account, keyID, afterName string, limit int) ([]*store.KMSAlias, error) {
	var rows *sql.Rows
	var err error
	if keyID == "" {
		rows, err = r.t.query(ctx, "list KMS aliases", qKMSAliases, account, afterName, limit)
	} else {
		rows, err = r.t.query(ctx, "list KMS aliases", qKMSAliasesOfKey, account, keyID, afterName, limit)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.KMSAlias
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list KMS aliases")
		}
		out = append(out, a)
	}
	return out, r.t.s.classify(rows.Err(), "list KMS aliases")
}

// ---- secrets ----

const secretColumns = `s.id, s.arn, s.account_id, s.name, s.description, s.kms_key_id, s.rotation_enabled,
	s.rotation_lambda_arn, s.rotation_rules, s.rotation, s.rotation_due_at, s.next_rotation_at, s.last_rotated_at,
	s.last_changed_at, s.last_accessed_at, s.deleted_at, s.purge_at, s.created_at, s.resource_policy, s.version`

var (
	qSecretInsert = register(`INSERT INTO secrets (id, arn, account_id, name, description, kms_key_id,
		rotation_enabled, rotation_lambda_arn, rotation_rules, rotation, rotation_due_at, next_rotation_at,
		last_rotated_at, last_changed_at, last_accessed_at, deleted_at, purge_at, created_at, resource_policy, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	qSecretGet       = register(`SELECT ` + secretColumns + ` FROM secrets s WHERE s.id = ?`)
	qSecretGetByARN  = register(`SELECT ` + secretColumns + ` FROM secrets s WHERE s.arn = ?`)
	qSecretGetByName = register(`SELECT ` + secretColumns + ` FROM secrets s WHERE s.account_id = ? AND s.name = ?`)
	qSecretUpdate    = register(`UPDATE secrets SET description = ?, kms_key_id = ?, rotation_enabled = ?,
		rotation_lambda_arn = ?, rotation_rules = ?, rotation = ?, rotation_due_at = ?, next_rotation_at = ?,
		last_rotated_at = ?, last_changed_at = ?, last_accessed_at = ?, deleted_at = ?, purge_at = ?,
		resource_policy = ?, version = version + 1 WHERE id = ? AND version = ?`)
	qSecretExists        = register(`SELECT 1 FROM secrets WHERE id = ?`)
	qSecretDelete        = register(`DELETE FROM secrets WHERE id = ?`)
	qSecretDelVersions   = register(`DELETE FROM secret_versions WHERE secret_id = ?`)
	qSecretDelStages     = register(`DELETE FROM secret_stages WHERE secret_id = ?`)
	qSecretRotationDue   = register(`SELECT id FROM secrets WHERE rotation_due_at IS NOT NULL AND rotation_due_at <= ? ORDER BY rotation_due_at LIMIT ?`)
	qSecretPurgeDue      = register(`SELECT id FROM secrets WHERE purge_at IS NOT NULL AND purge_at <= ? ORDER BY purge_at LIMIT ?`)
	qVersionColumns      = `v.secret_id, v.version_id, v.kms_key_arn, v.data_key, v.ciphertext, v.is_binary, v.created_at, v.last_accessed_at`
	qSecretVersionUpsert = register(`INSERT INTO secret_versions (secret_id, version_id, kms_key_arn, data_key,
		ciphertext, is_binary, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (secret_id, version_id) DO UPDATE SET kms_key_arn = excluded.kms_key_arn,
		data_key = excluded.data_key, ciphertext = excluded.ciphertext, is_binary = excluded.is_binary
		WHERE secret_versions.data_key IS NULL`)
	qSecretVersionGet = register(`SELECT ` + qVersionColumns + ` FROM secret_versions v WHERE v.secret_id = ? AND v.version_id = ?`)
	qSecretStaged     = register(`SELECT ` + qVersionColumns + ` FROM secret_stages st
		JOIN secret_versions v ON v.secret_id = st.secret_id AND v.version_id = st.version_id
		WHERE st.secret_id = ? AND st.stage = ?`)
	qSecretVersions = register(`SELECT v.version_id, v.kms_key_arn, CASE WHEN v.data_key IS NULL THEN 0 ELSE 1 END, v.is_binary, v.created_at,
		v.last_accessed_at FROM secret_versions v WHERE v.secret_id = ? ORDER BY v.created_at DESC, v.version_id`)
	qSecretVersionDelete = register(`DELETE FROM secret_versions WHERE secret_id = ? AND version_id = ?`)
	qSecretStages        = register(`SELECT stage, version_id FROM secret_stages WHERE secret_id = ? ORDER BY stage`)
	qSecretStageSet      = register(`INSERT INTO secret_stages (secret_id, stage, version_id) VALUES (?, ?, ?)
		ON CONFLICT (secret_id, stage) DO UPDATE SET version_id = excluded.version_id`)
	qSecretStageRemove = register(`DELETE FROM secret_stages WHERE secret_id = ? AND stage = ?`)
	qSecretTouch       = register(`UPDATE secret_versions SET last_accessed_at = ? WHERE secret_id = ? AND version_id = ?`)
	qSecretTouchSecret = register(`UPDATE secrets SET last_accessed_at = ? WHERE id = ?`)
)

var (
	qSecretHeadByARN  = register(`SELECT id, arn, account_id, name, deleted_at, version FROM secrets WHERE arn = ?`)
	qSecretHeadByName = register(`SELECT id, arn, account_id, name, deleted_at, version FROM secrets WHERE account_id = ? AND name = ?`)
)

type secretRepo struct{ t *tx }

func (r secretRepo) Head(ctx context.Context, arn, account, name string) (*store.Secret, error) {
	var row *sql.Row
	if arn != "" {
		row = r.t.queryRow(ctx, qSecretHeadByARN, arn)
	} else {
		row = r.t.queryRow(ctx, qSecretHeadByName, account, name)
	}
	var s store.Secret
	var deleted sql.NullInt64
	if err := row.Scan(&s.ID, &s.ARN, &s.Account, &s.Name, &deleted, &s.Version); err != nil {
		return nil, r.t.s.classify(err, "get secret")
	}
	s.DeletedAt = fromTm(deleted)
	return &s, nil
}

func (t *tx) Secrets() store.Secrets { return secretRepo{t} }

func scanSecret(sc interface{ Scan(...any) error }) (*store.Secret, error) {
	var s store.Secret
	var rot int64
	var rules, rotation string
	var due, next, last, changed, accessed, deleted, purge, created sql.NullInt64
	if err := sc.Scan(&s.ID, &s.ARN, &s.Account, &s.Name, &s.Description, &s.KMSKeyID, &rot, &s.RotationLambdaARN,
		&rules, &rotation, &due, &next, &last, &changed, &accessed, &deleted, &purge, &created, &s.ResourcePolicy,
		&s.Version); err != nil {
		return nil, err
	}
	s.RotationEnabled = rot != 0
	if rules != "" {
		s.RotationRules = []byte(rules)
	}
	if rotation != "" {
		s.Rotation = []byte(rotation)
	}
	s.RotationDueAt, s.NextRotationAt, s.LastRotatedAt = fromTm(due), fromTm(next), fromTm(last)
	s.LastChangedAt, s.LastAccessedAt, s.DeletedAt = fromTm(changed), fromTm(accessed), fromTm(deleted)
	s.PurgeAt, s.CreatedAt = fromTm(purge), fromTm(created)
	return &s, nil
}

func (r secretRepo) Insert(ctx context.Context, s *store.Secret) error {
	_, err := r.t.exec(ctx, "insert secret", qSecretInsert, s.ID, s.ARN, s.Account, s.Name, s.Description, s.KMSKeyID,
		boolInt(s.RotationEnabled), s.RotationLambdaARN, string(s.RotationRules), string(s.Rotation),
		tm(s.RotationDueAt), tm(s.NextRotationAt), tm(s.LastRotatedAt), tm(s.LastChangedAt), tm(s.LastAccessedAt),
		tm(s.DeletedAt), tm(s.PurgeAt), tm(s.CreatedAt), s.ResourcePolicy)
	if err != nil {
		return err
	}
	s.Version = 1
	return nil
}

func (r secretRepo) get(ctx context.Context, q string, args ...any) (*store.Secret, error) {
	s, err := scanSecret(r.t.queryRow(ctx, q, args...))
	if err != nil {
		return nil, r.t.s.classify(err, "get secret")
	}
	return s, nil
}

func (r secretRepo) Get(ctx context.Context, id string) (*store.Secret, error) {
	return r.get(ctx, qSecretGet, id)
}

func (r secretRepo) GetByARN(ctx context.Context, arn string) (*store.Secret, error) {
	return r.get(ctx, qSecretGetByARN, arn)
}

func (r secretRepo) GetByName(ctx context.Context, account, name string) (*store.Secret, error) {
	return r.get(ctx, qSecretGetByName, account, name)
}

func (r secretRepo) Update(ctx context.Context, s *store.Secret) error {
	res, err := r.t.exec(ctx, "update secret", qSecretUpdate, s.Description, s.KMSKeyID, boolInt(s.RotationEnabled),
		s.RotationLambdaARN, string(s.RotationRules), string(s.Rotation), tm(s.RotationDueAt), tm(s.NextRotationAt),
		tm(s.LastRotatedAt), tm(s.LastChangedAt), tm(s.LastAccessedAt), tm(s.DeletedAt), tm(s.PurgeAt),
		s.ResourcePolicy, s.ID, s.Version)
	if err != nil {
		return err
	}
	if err := r.t.checkUpdated(ctx, res, "update secret", qSecretExists, s.ID); err != nil {
		return err
	}
	s.Version++
	return nil
}

func (r secretRepo) Delete(ctx context.Context, id string) error {
	for _, q := range []string{qSecretDelStages, qSecretDelVersions} {
		if _, err := r.t.exec(ctx, "delete secret", q, id); err != nil {
			return err
		}
	}
	return r.t.execOne(ctx, "delete secret", qSecretDelete, id)
}

func (r secretRepo) RotationDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list rotations due", qSecretRotationDue, tm(now), limit)
}

func (r secretRepo) PurgeDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list secret purges due", qSecretPurgeDue, tm(now), limit)
}

func scanVersion(sc interface{ Scan(...any) error }) (*store.SecretVersion, error) {
	var v store.SecretVersion
	var bin int64
	var created, accessed sql.NullInt64
	if err := sc.Scan(&v.SecretID, &v.VersionID, &v.KMSKeyARN, &v.DataKey, &v.Ciphertext, &bin, &created, &accessed); err != nil {
		return nil, err
	}
	v.Binary, v.HasValue = bin != 0, v.DataKey != nil
	v.CreatedAt, v.LastAccessedAt = fromTm(created), fromTm(accessed)
	return &v, nil
}

func (r secretRepo) PutVersion(ctx context.Context, v *store.SecretVersion) error {
	_, err := r.t.exec(ctx, "put secret version", qSecretVersionUpsert, v.SecretID, v.VersionID, v.KMSKeyARN,
		nullBytes(v.DataKey), nullBytes(v.Ciphertext), boolInt(v.Binary), tm(v.CreatedAt))
	return err
}

func (r secretRepo) GetVersion(ctx context.Context, secretID, versionID string) (*store.SecretVersion, error) {
	v, err := scanVersion(r.t.queryRow(ctx, qSecretVersionGet, secretID, versionID))
	if err != nil {
		return nil, r.t.s.classify(err, "get secret version")
	}
	return v, nil
}

func (r secretRepo) StagedVersion(ctx context.Context, secretID, stage string) (*store.SecretVersion, error) {
	v, err := scanVersion(r.t.queryRow(ctx, qSecretStaged, secretID, stage))
	if err != nil {
		return nil, r.t.s.classify(err, "get staged secret version")
	}
	return v, nil
}

func (r secretRepo) Versions(ctx context.Context, secretID string) ([]*store.SecretVersion, error) {
	stages, err := r.Stages(ctx, secretID)
	if err != nil {
		return nil, err
	}
	rows, err := r.t.query(ctx, "list secret versions", qSecretVersions, secretID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.SecretVersion
	byID := map[string]*store.SecretVersion{}
	for rows.Next() {
		v := &store.SecretVersion{SecretID: secretID}
		var has, bin int64
		var created, accessed sql.NullInt64
		if err := rows.Scan(&v.VersionID, &v.KMSKeyARN, &has, &bin, &created, &accessed); err != nil {
			return nil, r.t.s.classify(err, "list secret versions")
		}
		v.HasValue, v.Binary = has != 0, bin != 0
		v.CreatedAt, v.LastAccessedAt = fromTm(created), fromTm(accessed)
		out = append(out, v)
		byID[v.VersionID] = v
	}
	if err := rows.Err(); err != nil {
		return nil, r.t.s.classify(err, "list secret versions")
	}
	for stage, id := range stages {
		if v := byID[id]; v != nil {
			v.Stages = append(v.Stages, stage)
		}
	}
	return out, nil
}

func (r secretRepo) DeleteVersion(ctx context.Context, secretID, versionID string) error {
	_, err := r.t.exec(ctx, "delete secret version", qSecretVersionDelete, secretID, versionID)
	return err
}

func (r secretRepo) Stages(ctx context.Context, secretID string) (map[string]string, error) {
	rows, err := r.t.query(ctx, "list staging labels", qSecretStages, secretID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var stage, id string
		if err := rows.Scan(&stage, &id); err != nil {
			return nil, r.t.s.classify(err, "list staging labels")
		}
		out[stage] = id
	}
	return out, r.t.s.classify(rows.Err(), "list staging labels")
}

func (r secretRepo) SetStage(ctx context.Context, secretID, stage, versionID string) error {
	_, err := r.t.exec(ctx, "set staging label", qSecretStageSet, secretID, stage, versionID)
	return err
}

func (r secretRepo) RemoveStage(ctx context.Context, secretID, stage string) error {
	_, err := r.t.exec(ctx, "remove staging label", qSecretStageRemove, secretID, stage)
	return err
}

func (r secretRepo) Touch(ctx context.Context, secretID, versionID string, day time.Time) error {
	if _, err := r.t.exec(ctx, "record secret access", qSecretTouch, tm(day), secretID, versionID); err != nil {
		return err
	}
	_, err := r.t.exec(ctx, "record secret access", qSecretTouchSecret, tm(day), secretID)
	return err
}

// secretSort maps a SecretQuery.SortBy to its column expression and kind.
var secretSort = map[string]acmField{
	"":                 {"s.created_at", 't'},
	"created_at":       {"s.created_at", 't'},
	"name":             {"s.name", 's'},
	"last_changed_at":  {"COALESCE(s.last_changed_at, 0)", 't'},
	"last_accessed_at": {"COALESCE(s.last_accessed_at, 0)", 't'},
}

// likePrefix escapes s for a LIKE prefix pattern.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

func (r secretRepo) Query(ctx context.Context, q store.SecretQuery) ([]*store.Secret, error) {
	sortCol, ok := secretSort[q.SortBy]
	if !ok {
		return nil, errs.New(errs.Invalid, "unknown sort %q", q.SortBy)
	}
	b := &queryBuilder{}
	b.sb.WriteString(`SELECT ` + secretColumns + ` FROM secrets s WHERE s.account_id = `)
	b.arg(q.Account)
	if !q.IncludeDeleted {
		b.sb.WriteString(` AND s.deleted_at IS NULL`)
	}
	for _, f := range q.Filters {
		if len(f.Values) == 0 {
			continue
		}
		b.sb.WriteString(` AND `)
		if f.Negate {
			b.sb.WriteString(`NOT `)
		}
		b.sb.WriteString(`(`)
		for i, v := range f.Values {
			if i > 0 {
				b.sb.WriteString(` OR `)
			}
			switch f.Key {
			case "name":
				b.sb.WriteString(`lower(s.name) LIKE lower(`)
				b.arg(likePrefix(v))
				b.sb.WriteString(`) ESCAPE '\'`)
			case "description":
				b.sb.WriteString(`lower(s.description) LIKE lower(`)
				b.arg(likePrefix(v))
				b.sb.WriteString(`) ESCAPE '\'`)
			case "tag-key", "tag-value":
				col := "t.key"
				if f.Key == "tag-value" {
					col = "t.value"
				}
				b.sb.WriteString(`EXISTS (SELECT 1 FROM tags t WHERE t.resource_arn = s.arn AND ` + col + ` LIKE `)
				b.arg(likePrefix(v))
				b.sb.WriteString(` ESCAPE '\')`)
			case "all":
				p := "%" + strings.TrimSuffix(likePrefix(v), "%") + "%"
				b.sb.WriteString(`(lower(s.name) LIKE lower(`)
				b.arg(p)
				b.sb.WriteString(`) ESCAPE '\' OR lower(s.description) LIKE lower(`)
				b.arg(p)
				b.sb.WriteString(`) ESCAPE '\' OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_arn = s.arn AND (lower(t.key) LIKE lower(`)
				b.arg(p)
				b.sb.WriteString(`) ESCAPE '\' OR lower(t.value) LIKE lower(`)
				b.arg(p)
				b.sb.WriteString(`) ESCAPE '\')))`)
			default:
				return nil, errs.New(errs.Invalid, "unknown filter %q", f.Key)
			}
		}
		b.sb.WriteString(`)`)
	}
	cmp, dir := ">", "ASC"
	if q.Desc {
		cmp, dir = "<", "DESC"
	}
	if q.After != nil {
		v, err := encodeFilterValue(sortCol.kind, q.After.Value)
		if err != nil {
			return nil, errs.New(errs.Invalid, "bad cursor: %v", err)
		}
		fmt.Fprintf(&b.sb, ` AND (%s %s `, sortCol.expr, cmp)
		b.arg(v)
		fmt.Fprintf(&b.sb, ` OR (%s = `, sortCol.expr)
		b.arg(v)
		fmt.Fprintf(&b.sb, ` AND s.id %s `, cmp)
		b.arg(q.After.ID)
		b.sb.WriteString(`))`)
	}
	fmt.Fprintf(&b.sb, ` ORDER BY %s %s, s.id %s LIMIT `, sortCol.expr, dir, dir)
	b.arg(q.Limit)
	rows, err := r.t.query(ctx, "list secrets", b.sb.String(), b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list secrets")
		}
		out = append(out, s)
	}
	return out, r.t.s.classify(rows.Err(), "list secrets")
}

// ---- rotation functions ----

var (
	qFunctionInsert = register(`INSERT INTO rotation_functions (account_id, name, arn, url, ca_bundle, secret_sealed,
		created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	qFunctionGet = register(`SELECT account_id, name, arn, url, ca_bundle, secret_sealed, created_at
		FROM rotation_functions WHERE account_id = ? AND name = ?`)
	qFunctionList = register(`SELECT account_id, name, arn, url, ca_bundle, secret_sealed, created_at
		FROM rotation_functions WHERE account_id = ? ORDER BY name`)
	qFunctionDelete = register(`DELETE FROM rotation_functions WHERE account_id = ? AND name = ?`)
)

type functionRepo struct{ t *tx }

func (t *tx) RotationFunctions() store.RotationFunctions { return functionRepo{t} }

func scanFunction(sc interface{ Scan(...any) error }) (*store.RotationFunction, error) {
	var f store.RotationFunction
	var created sql.NullInt64
	if err := sc.Scan(&f.Account, &f.Name, &f.ARN, &f.URL, &f.CABundle, &f.SecretSealed, &created); err != nil {
		return nil, err
	}
	f.CreatedAt = fromTm(created)
	return &f, nil
}

func (r functionRepo) Insert(ctx context.Context, f *store.RotationFunction) error {
	_, err := r.t.exec(ctx, "insert rotation function", qFunctionInsert, f.Account, f.Name, f.ARN, f.URL,
		nullBytes(f.CABundle), f.SecretSealed, tm(f.CreatedAt))
	return err
}

func (r functionRepo) Get(ctx context.Context, account, name string) (*store.RotationFunction, error) {
	f, err := scanFunction(r.t.queryRow(ctx, qFunctionGet, account, name))
	if err != nil {
		return nil, r.t.s.classify(err, "get rotation function")
	}
	return f, nil
}

func (r functionRepo) List(ctx context.Context, account string) ([]*store.RotationFunction, error) {
	rows, err := r.t.query(ctx, "list rotation functions", qFunctionList, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.RotationFunction
	for rows.Next() {
		f, err := scanFunction(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list rotation functions")
		}
		out = append(out, f)
	}
	return out, r.t.s.classify(rows.Err(), "list rotation functions")
}

func (r functionRepo) Delete(ctx context.Context, account, name string) error {
	return r.t.execOne(ctx, "delete rotation function", qFunctionDelete, account, name)
}
