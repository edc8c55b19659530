package secrets

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/tagging"
)

// Value is a secret value: exactly one of String and Binary is set.
type Value struct {
	String *string
	Binary []byte
}

func (v Value) bytes() []byte {
	if v.String != nil {
		return []byte(*v.String)
	}
	return v.Binary
}

func (v Value) set() bool { return v.String != nil || v.Binary != nil }

func checkValue(v Value) error {
	if v.String != nil && v.Binary != nil {
		return invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if v.String != nil && (len(*v.String) < 1 || len(*v.String) > MaxValue) {
		return validation("secretString", "***", "Member must have length between 1 and 65536")
	}
	if v.Binary != nil && (len(v.Binary) < 1 || len(v.Binary) > MaxValue) {
		return validation("secretBinary", "***", "Member must have length between 1 and 65536")
	}
	return nil
}

func checkToken(token string) error {
	if token != "" && (len(token) < 32 || len(token) > 64) {
		return validation("clientRequestToken", token, "Member must have length between 32 and 64")
	}
	return nil
}

func checkStages(stages []string) error {
	if len(stages) > MaxLabels {
		return validation("versionStages", stages, "Member must have length less than or equal to 20")
	}
	for _, l := range stages {
		if !labelRE.MatchString(l) {
			return validation("versionStages", l, "Member must have length between 1 and 256")
		}
	}
	return nil
}

// CreateInput is a CreateSecret request.
type CreateInput struct {
	Name               string
	ClientRequestToken string
	Description        string
	KMSKeyID           string
	Value              Value
	Tags               []tagging.Tag
	AddReplicaRegions  int // replication is not supported; any is refused
}

// Created names a secret and the version a write made.
type Created struct {
	ARN       string
	Name      string
	VersionID string
	Stages    []string
}

// Create creates a secret, with its first version when a value is given.
func (s *Service) Create(ctx context.Context, p iam.Principal, in CreateInput) (*Created, error) {
	if in.Name == "" {
		return nil, required("name")
	}
	if !nameRE.MatchString(in.Name) {
		return nil, validation("name", in.Name, "Member must have length between 1 and 512 and contain only letters, digits and /_+=.@-")
	}
	if len(in.Description) > MaxDescription {
		return nil, validation("description", "...", "Member must have length less than or equal to 2048")
	}
	if err := checkValue(in.Value); err != nil {
		return nil, err
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.AddReplicaRegions > 0 {
		return nil, invalidRequest("Sigil does not replicate secrets to other regions.")
	}
	tags, err := tagRules.Merge(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	requestTags := make(map[string]string, len(tags))
	for _, t := range tags {
		requestTags[t.Key] = t.Value
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "secretsmanager:CreateSecret",
		Resource: "arn:aws:secretsmanager:" + s.region + ":" + p.Account + ":secret:" + in.Name,
		Context:  iam.RequestTags(requestTags)}); err != nil {
		return nil, err
	}
	token := in.ClientRequestToken
	if token == "" {
		token = uuid.NewString()
	}
	out := &Created{Name: in.Name}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		existing, err := tx.Secrets().GetByName(ctx, p.Account, in.Name)
		if err == nil {
			if !existing.DeletedAt.IsZero() {
				return invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
			}
			// A retried CreateSecret (same token, same value) is a no-op.
			if in.Value.set() {
				if v, err := tx.Secrets().GetVersion(ctx, existing.ID, token); err == nil && v.HasValue {
					old, err := s.openValue(ctx, tx, p, existing, v)
					if err != nil {
						return err
					}
					if bytes.Equal(old, in.Value.bytes()) && v.Binary == (in.Value.Binary != nil) {
						out.ARN, out.VersionID = existing.ARN, token
						return nil
					}
				}
			}
			return errs.Coded(errs.Conflict, CodeResourceExists, "The operation failed because the secret %s already exists.", in.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := s.clock.Now()
		arn, err := s.secretARN(p.Account, in.Name)
		if err != nil {
			return err
		}
		sec := &store.Secret{ID: uuid.NewString(), ARN: arn, Account: p.Account, Name: in.Name, Description: in.Description,
			KMSKeyID: in.KMSKeyID, CreatedAt: now, LastChangedAt: now}
		if err := tx.Secrets().Insert(ctx, sec); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errs.Coded(errs.Conflict, CodeResourceExists, "The operation failed because the secret %s already exists.", in.Name)
			}
			return err
		}
		if len(tags) > 0 {
			if err := tx.Tags().Replace(ctx, arn, tags); err != nil {
				return err
			}
		}
		out.ARN = arn
		if in.Value.set() {
			out.VersionID, out.Stages, err = s.putValue(ctx, tx, p, sec, token, in.Value, nil)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// putValue stores a value as version token and moves labels to it (stages
// nil: AWSCURRENT). A token that names an existing version with the same
// value is a no-op; with another value it is refused.
func (s *Service) putValue(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, token string, val Value, stages []string) (string, []string, error) {
	if token == "" {
		token = uuid.NewString()
	}
	if stages == nil {
		stages = []string{StageCurrent}
	}
	now := s.clock.Now()
	existing, err := tx.Secrets().GetVersion(ctx, sec.ID, token)
	switch {
	case err == nil && existing.HasValue:
		old, err := s.openValue(ctx, tx, p, sec, existing)
		if err != nil {
			return "", nil, err
		}
		defer clear(old)
		if !bytes.Equal(old, val.bytes()) || existing.Binary != (val.Binary != nil) {
			return "", nil, errs.Coded(errs.Conflict, CodeResourceExists,
				"You can't modify an existing version, you can only create a new version.")
		}
		cur, err := tx.Secrets().Stages(ctx, sec.ID)
		if err != nil {
			return "", nil, err
		}
		return token, stagesOf(cur, token), nil
	case err == nil:
		// A version a rotation created without a value: fill it.
	case errors.Is(err, store.ErrNotFound):
		existing = &store.SecretVersion{SecretID: sec.ID, VersionID: token, CreatedAt: now}
	default:
		return "", nil, err
	}
	existing.Binary = val.Binary != nil
	if err := s.sealValue(ctx, tx, p, sec, existing, val.bytes()); err != nil {
		return "", nil, err
	}
	if err := tx.Secrets().PutVersion(ctx, existing); err != nil {
		return "", nil, err
	}
	cur, err := tx.Secrets().Stages(ctx, sec.ID)
	if err != nil {
		return "", nil, err
	}
	for _, l := range stages {
		if err := s.moveStage(ctx, tx, sec.ID, cur, l, token); err != nil {
			return "", nil, err
		}
	}
	if len(cur) > MaxLabels {
		return "", nil, errs.Coded(errs.Limit, CodeLimit, "A secret can have at most %d staging labels.", MaxLabels)
	}
	if err := s.prune(ctx, tx, sec, now); err != nil {
		return "", nil, err
	}
	sec.LastChangedAt = now
	if err := tx.Secrets().Update(ctx, sec); err != nil {
		return "", nil, err
	}
	return token, stagesOf(cur, token), nil
}

func stagesOf(stages map[string]string, versionID string) []string {
	var out []string
	for l, v := range stages {
		if v == versionID {
			out = append(out, l)
		}
	}
	sortLabels(out)
	return out
}

// moveStage puts a label on a version (cur is updated). Moving AWSCURRENT
// labels the version it leaves AWSPREVIOUS.
func (s *Service) moveStage(ctx context.Context, tx store.Tx, secretID string, cur map[string]string, label, to string) error {
	old := cur[label]
	if old == to {
		return nil
	}
	if err := tx.Secrets().SetStage(ctx, secretID, label, to); err != nil {
		return err
	}
	cur[label] = to
	if label == StageCurrent && old != "" {
		if err := tx.Secrets().SetStage(ctx, secretID, StagePrevious, old); err != nil {
			return err
		}
		cur[StagePrevious] = old
	}
	return nil
}

// prune deletes unlabelled versions beyond the version limit, oldest
// first, but never one created in the last 24 hours.
func (s *Service) prune(ctx context.Context, tx store.Tx, sec *store.Secret, now time.Time) error {
	vs, err := tx.Secrets().Versions(ctx, sec.ID)
	if err != nil || len(vs) <= MaxVersions {
		return err
	}
	extra := len(vs) - MaxVersions
	for i := len(vs) - 1; i >= 0 && extra > 0; i-- { // oldest last
		v := vs[i]
		if len(v.Stages) > 0 || now.Sub(v.CreatedAt) < pruneAfter {
			continue
		}
		if err := tx.Secrets().DeleteVersion(ctx, sec.ID, v.VersionID); err != nil {
			return err
		}
		extra--
	}
	if extra > 0 {
		return errs.Coded(errs.Limit, CodeLimit, "You have exceeded the maximum number of versions (%d) for this secret; versions without staging labels are removed once they are 24 hours old.", MaxVersions)
	}
	return nil
}

// SecretValue is what GetSecretValue returns.
type SecretValue struct {
	ARN       string
	Name      string
	VersionID string
	Value     Value
	Stages    []string
	CreatedAt time.Time
}

// Get returns a version's value: by ID, by label, or AWSCURRENT.
func (s *Service) Get(ctx context.Context, p iam.Principal, secretID, versionID, stage string) (*SecretValue, error) {
	if versionID != "" && (len(versionID) < 32 || len(versionID) > 64) {
		return nil, validation("versionId", versionID, "Member must have length between 32 and 64")
	}
	var out *SecretValue
	var touch *store.SecretVersion
	// The hot path: the secret's row (one indexed statement) and a cached
	// resolution of which version to read, still current when the row
	// version has not moved; no transaction is needed for one statement.
	miss := false
	err := s.store.Read(ctx, func(tx store.Tx) error {
		sec, err := s.lookup(ctx, tx, p, secretID, true)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, p, sec, "secretsmanager:GetSecretValue"); err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		c, ok := s.reads.Load(readKey{sec.ID, versionID, stage})
		if !ok || c.(*cachedRead).rowVersion != sec.Version {
			miss = true
			return nil
		}
		out, touch, err = s.decryptRead(ctx, tx, p, sec, c.(*cachedRead).version, c.(*cachedRead).labels)
		return err
	})
	if err != nil {
		return nil, err
	}
	if miss {
		err = s.store.View(ctx, func(tx store.Tx) error {
			sec, err := s.access(ctx, tx, p, "secretsmanager:GetSecretValue", secretID)
			if err != nil {
				return err
			}
			if err := notDeleted(sec); err != nil {
				return err
			}
			out, touch, err = s.read(ctx, tx, p, sec, versionID, stage)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	today := day(s.clock.Now())
	tk := readKey{touch.SecretID, touch.VersionID, ""}
	if last, ok := s.touched.Load(tk); (ok && last.(time.Time).Equal(today)) || touch.LastAccessedAt.Equal(today) {
		return out, nil
	}
	// Access dates are kept to the day: one write per version per day.
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return tx.Secrets().Touch(ctx, touch.SecretID, touch.VersionID, today)
	}); err != nil {
		s.log.Warn("could not record a secret access", "secret", out.ARN, "err", err)
	} else {
		if s.touchCount.Add(1) > maxCachedReads {
			s.touched.Clear()
			s.touchCount.Store(0)
		}
		s.touched.Store(tk, today)
	}
	return out, nil
}

func (s *Service) read(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, versionID, stage string) (*SecretValue, *store.SecretVersion, error) {
	key := readKey{sec.ID, versionID, stage}
	if c, ok := s.reads.Load(key); ok && c.(*cachedRead).rowVersion == sec.Version {
		cr := c.(*cachedRead)
		return s.decryptRead(ctx, tx, p, sec, cr.version, cr.labels)
	}
	v, labels, err := s.resolveRead(ctx, tx, sec, versionID, stage)
	if err != nil {
		return nil, nil, err
	}
	if s.readCount.Add(1) > maxCachedReads {
		s.reads.Clear()
		s.readCount.Store(0)
	}
	s.reads.Store(key, &cachedRead{rowVersion: sec.Version, version: v, labels: labels})
	return s.decryptRead(ctx, tx, p, sec, v, labels)
}

func (s *Service) decryptRead(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, v *store.SecretVersion, labels []string) (*SecretValue, *store.SecretVersion, error) {
	pt, err := s.openValue(ctx, tx, p, sec, v)
	if err != nil {
		return nil, nil, err
	}
	out := &SecretValue{ARN: sec.ARN, Name: sec.Name, VersionID: v.VersionID, Stages: labels, CreatedAt: v.CreatedAt}
	if v.Binary {
		out.Value.Binary = pt
	} else {
		str := string(pt)
		clear(pt)
		out.Value.String = &str
	}
	return out, v, nil
}

// resolveRead finds the version a read names and its labels.
func (s *Service) resolveRead(ctx context.Context, tx store.Tx, sec *store.Secret, versionID, stage string) (*store.SecretVersion, []string, error) {
	var v *store.SecretVersion
	var err error
	switch {
	case versionID != "":
		v, err = tx.Secrets().GetVersion(ctx, sec.ID, versionID)
	default:
		if stage == "" {
			stage = StageCurrent
		}
		v, err = tx.Secrets().StagedVersion(ctx, sec.ID, stage)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && !v.HasValue) {
		switch {
		case versionID != "" && stage != "":
			return nil, nil, errs.New(errs.NotFound, "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", versionID, stage)
		case versionID != "":
			return nil, nil, errs.New(errs.NotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
		return nil, nil, errs.New(errs.NotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	if err != nil {
		return nil, nil, err
	}
	cur, err := tx.Secrets().Stages(ctx, sec.ID)
	if err != nil {
		return nil, nil, err
	}
	labels := stagesOf(cur, v.VersionID)
	if versionID != "" && stage != "" && cur[stage] != versionID {
		return nil, nil, errs.New(errs.NotFound, "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", versionID, stage)
	}
	return v, labels, nil
}

// BatchError is one secret BatchGetSecretValue could not read (the adapter
// names the wire error from Err).
type BatchError struct {
	SecretID string
	Err      error
}

// BatchResult is BatchGetSecretValue's answer.
type BatchResult struct {
	Values    []*SecretValue
	Errors    []BatchError
	NextToken string
}

// BatchGet reads the AWSCURRENT value of several secrets, named by ID or
// selected by filters (then paginated). Secrets that cannot be read are
// reported one by one, not as a failure of the call.
func (s *Service) BatchGet(ctx context.Context, p iam.Principal, ids []string, filters []store.SecretFilter, maxResults int, nextToken string) (*BatchResult, error) {
	if len(ids) > 0 && len(filters) > 0 {
		return nil, invalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if len(ids) == 0 && len(filters) == 0 {
		return nil, invalidParameter("Either 'SecretIdList' or 'Filters' must be provided.")
	}
	if len(ids) > 20 {
		return nil, validation("secretIdList", len(ids), "Member must have length less than or equal to 20")
	}
	res := &BatchResult{}
	if len(filters) > 0 {
		if maxResults == 0 {
			maxResults = 20
		}
		if maxResults < 1 || maxResults > 20 {
			return nil, validation("maxResults", maxResults, "Member must have value between 1 and 20")
		}
		page, err := s.List(ctx, p, ListInput{Filters: filters, MaxResults: maxResults, NextToken: nextToken})
		if err != nil {
			return nil, err
		}
		for _, e := range page.Secrets {
			ids = append(ids, e.ARN)
		}
		res.NextToken = page.NextToken
	} else if maxResults != 0 || nextToken != "" {
		return nil, invalidParameter("'MaxResults' and 'NextToken' apply only with 'Filters'.")
	}
	for _, id := range ids {
		v, err := s.Get(ctx, p, id, "", "")
		if err != nil {
			if errs.KindOf(err) == errs.Internal {
				return nil, err
			}
			res.Errors = append(res.Errors, BatchError{SecretID: id, Err: err})
			continue
		}
		res.Values = append(res.Values, v)
	}
	return res, nil
}

// PutInput is a PutSecretValue request.
type PutInput struct {
	SecretID           string
	ClientRequestToken string
	Value              Value
	Stages             []string // nil: AWSCURRENT
	RotationToken      string
}

// Put stores a new version of a secret's value.
func (s *Service) Put(ctx context.Context, p iam.Principal, in PutInput) (*Created, error) {
	if err := checkValue(in.Value); err != nil {
		return nil, err
	}
	if !in.Value.set() {
		return nil, invalidParameter("You must provide either SecretString or SecretBinary.")
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if err := checkStages(in.Stages); err != nil {
		return nil, err
	}
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:PutSecretValue", in.SecretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		out.VersionID, out.Stages, err = s.putValue(ctx, tx, p, sec, in.ClientRequestToken, in.Value, in.Stages)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateInput is an UpdateSecret request. A nil field is left unchanged;
// an empty KMSKeyID returns the secret to aws/secretsmanager.
type UpdateInput struct {
	SecretID           string
	ClientRequestToken string
	Description        *string
	KMSKeyID           *string
	Value              Value
}

// Update changes a secret's metadata and, with a value, makes a new
// AWSCURRENT version. A new KMS key re-encrypts the labelled versions.
func (s *Service) Update(ctx context.Context, p iam.Principal, in UpdateInput) (*Created, error) {
	if err := checkValue(in.Value); err != nil {
		return nil, err
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.Description != nil && len(*in.Description) > MaxDescription {
		return nil, validation("description", "...", "Member must have length less than or equal to 2048")
	}
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:UpdateSecret", in.SecretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		now := s.clock.Now()
		if in.Description != nil {
			sec.Description = *in.Description
		}
		if in.KMSKeyID != nil && *in.KMSKeyID != sec.KMSKeyID {
			sec.KMSKeyID = *in.KMSKeyID
			if err := s.reencrypt(ctx, tx, p, sec); err != nil {
				return err
			}
		}
		sec.LastChangedAt = now
		if err := tx.Secrets().Update(ctx, sec); err != nil {
			return err
		}
		if in.Value.set() {
			out.VersionID, _, err = s.putValue(ctx, tx, p, sec, in.ClientRequestToken, in.Value, nil)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reencrypt moves the versions that carry AWS's labels to the secret's
// (new) KMS key.
func (s *Service) reencrypt(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret) error {
	cur, err := tx.Secrets().Stages(ctx, sec.ID)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, l := range []string{StageCurrent, StagePending, StagePrevious} {
		id := cur[l]
		if id == "" || done[id] {
			continue
		}
		done[id] = true
		v, err := tx.Secrets().GetVersion(ctx, sec.ID, id)
		if err != nil {
			return err
		}
		if !v.HasValue {
			continue
		}
		pt, err := s.openValue(ctx, tx, p, sec, v)
		if err != nil {
			return err
		}
		err = s.sealValue(ctx, tx, p, sec, v, pt)
		clear(pt)
		if err != nil {
			return err
		}
		// Replace the stored value: drop and re-insert keeps labels, which
		// live in their own table.
		if err := tx.Secrets().DeleteVersion(ctx, sec.ID, id); err != nil {
			return err
		}
		if err := tx.Secrets().PutVersion(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// UpdateStage moves, adds or removes a staging label.
func (s *Service) UpdateStage(ctx context.Context, p iam.Principal, secretID, stage, removeFrom, moveTo string) (*Created, error) {
	if stage == "" {
		return nil, required("versionStage")
	}
	if err := checkStages([]string{stage}); err != nil {
		return nil, err
	}
	if removeFrom == "" && moveTo == "" {
		return nil, invalidParameter("You must specify RemoveFromVersionId, MoveToVersionId, or both.")
	}
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:UpdateSecretVersionStage", secretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		return s.updateStage(ctx, tx, sec, stage, removeFrom, moveTo)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) updateStage(ctx context.Context, tx store.Tx, sec *store.Secret, stage, removeFrom, moveTo string) error {
	cur, err := tx.Secrets().Stages(ctx, sec.ID)
	if err != nil {
		return err
	}
	holder := cur[stage]
	if removeFrom != "" && holder != removeFrom {
		return invalidParameter("The staging label %s is not attached to version %s.", stage, removeFrom)
	}
	if moveTo == "" {
		if stage == StageCurrent {
			return invalidParameter("You can't remove the staging label AWSCURRENT; move it to another version instead.")
		}
		return tx.Secrets().RemoveStage(ctx, sec.ID, stage)
	}
	if _, err := tx.Secrets().GetVersion(ctx, sec.ID, moveTo); errors.Is(err, store.ErrNotFound) {
		return invalidParameter("The version %s does not exist.", moveTo)
	} else if err != nil {
		return err
	}
	if holder != "" && holder != moveTo && removeFrom == "" {
		return invalidParameter("The staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder)
	}
	if err := s.moveStage(ctx, tx, sec.ID, cur, stage, moveTo); err != nil {
		return err
	}
	if len(cur) > MaxLabels {
		return errs.Coded(errs.Limit, CodeLimit, "A secret can have at most %d staging labels.", MaxLabels)
	}
	sec.LastChangedAt = s.clock.Now()
	return tx.Secrets().Update(ctx, sec)
}

// DeleteInput is a DeleteSecret request.
type DeleteInput struct {
	SecretID             string
	RecoveryWindowInDays int
	Force                bool
}

// Deleted is DeleteSecret's answer.
type Deleted struct {
	ARN          string
	Name         string
	DeletionDate time.Time
}

// Delete schedules a secret's deletion after a recovery window, or
// deletes it at once (Force).
func (s *Service) Delete(ctx context.Context, p iam.Principal, in DeleteInput) (*Deleted, error) {
	if in.Force && in.RecoveryWindowInDays != 0 {
		return nil, invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := in.RecoveryWindowInDays
	if days == 0 {
		days = defaultRecovery
	}
	if days < 7 || days > 30 {
		return nil, invalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	}
	out := &Deleted{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:DeleteSecret", in.SecretID)
		if errs.KindOf(err) == errs.NotFound && in.Force {
			// Forced deletion of what is already gone succeeds, as on AWS.
			out.Name, out.DeletionDate = in.SecretID, s.clock.Now()
			return nil
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		out.ARN, out.Name = sec.ARN, sec.Name
		if in.Force {
			out.DeletionDate = now
			s.log.Info("secret deleted without recovery", "secret", sec.ARN)
			return s.purge(ctx, tx, sec, now)
		}
		if !sec.DeletedAt.IsZero() {
			return invalidRequest("You can't perform this operation on the secret because it was already scheduled for deletion.")
		}
		sec.DeletedAt, sec.PurgeAt = now, now.AddDate(0, 0, days)
		out.DeletionDate = sec.PurgeAt
		if err := tx.Secrets().Update(ctx, sec); err != nil {
			return err
		}
		return s.publish(ctx, tx, sec, "DeleteSecret", now, map[string]any{"DeletionDate": sec.PurgeAt.UTC().Format(time.RFC3339)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// purge removes a secret for good: versions, labels, tags.
func (s *Service) purge(ctx context.Context, tx store.Tx, sec *store.Secret, now time.Time) error {
	if err := tx.Tags().Replace(ctx, sec.ARN, nil); err != nil {
		return err
	}
	if err := tx.Secrets().Delete(ctx, sec.ID); err != nil {
		return err
	}
	return s.publish(ctx, tx, sec, "SecretDeleted", now, nil)
}

// Restore cancels a scheduled deletion.
func (s *Service) Restore(ctx context.Context, p iam.Principal, secretID string) (*Created, error) {
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:RestoreSecret", secretID)
		if err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		if sec.DeletedAt.IsZero() {
			return nil
		}
		sec.DeletedAt, sec.PurgeAt = time.Time{}, time.Time{}
		if err := tx.Secrets().Update(ctx, sec); err != nil {
			return err
		}
		return s.publish(ctx, tx, sec, "RestoreSecret", s.clock.Now(), nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurgeDue deletes the secrets whose recovery window has ended.
func (s *Service) PurgeDue(ctx context.Context, fence scheduler.Fence) (int, error) {
	now := s.clock.Now()
	return scheduler.EachDue(ctx, s.store, fence,
		func(tx store.Tx) ([]string, error) { return tx.Secrets().PurgeDue(ctx, now, 100) },
		func(tx store.Tx, id string) (bool, error) {
			sec, err := tx.Secrets().Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			if sec.PurgeAt.IsZero() || sec.PurgeAt.After(now) {
				return false, nil
			}
			return true, s.purge(ctx, tx, sec, now)
		})
}

// publish records a Secrets Manager event in the outbox, in the envelope
// AWS uses for Secrets Manager's CloudTrail-delivered events.
func (s *Service) publish(ctx context.Context, tx store.Tx, sec *store.Secret, name string, at time.Time, extra map[string]any) error {
	detail := map[string]any{"eventSource": "secretsmanager.amazonaws.com", "eventName": name,
		"awsRegion": s.region, "eventTime": at.UTC().Format(time.RFC3339),
		"additionalEventData": map[string]any{"SecretId": sec.ARN}}
	for k, v := range extra {
		detail[k] = v
	}
	return events.Publish(ctx, tx, "aws.secretsmanager", "AWS Service Event via CloudTrail", sec.Account, s.region, at,
		[]string{sec.ARN}, detail)
}

// TagResource adds tags to a secret.
func (s *Service) TagResource(ctx context.Context, p iam.Principal, secretID string, tags []tagging.Tag) error {
	if len(tags) == 0 {
		return required("tags")
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:TagResource", secretID)
		if err != nil {
			return err
		}
		cur, err := tx.Tags().List(ctx, sec.ARN)
		if err != nil {
			return err
		}
		next, err := tagRules.Merge(cur, tags)
		if err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, sec.ARN, next); err != nil {
			return err
		}
		return tx.Secrets().Update(ctx, sec) // a new row version: cached tags are stale
	})
}

// UntagResource removes tags from a secret.
func (s *Service) UntagResource(ctx context.Context, p iam.Principal, secretID string, keys []string) error {
	if keys == nil {
		return required("tagKeys")
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:UntagResource", secretID)
		if err != nil {
			return err
		}
		cur, err := tx.Tags().List(ctx, sec.ARN)
		if err != nil {
			return err
		}
		next, err := tagRules.Remove(cur, keys)
		if err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, sec.ARN, next); err != nil {
			return err
		}
		return tx.Secrets().Update(ctx, sec) // a new row version: cached tags are stale
	})
}

// Policy is a secret's resource policy.
type Policy struct {
	ARN    string
	Name   string
	Policy string
}

// PutPolicy attaches a resource policy. With blockPublic a policy that
// allows anyone is refused.
func (s *Service) PutPolicy(ctx context.Context, p iam.Principal, secretID, policy string, blockPublic bool) (*Created, error) {
	if policy == "" {
		return nil, required("resourcePolicy")
	}
	if err := checkResourcePolicy(policy); err != nil {
		return nil, err
	}
	if blockPublic && iam.PolicyIsPublic(policy) {
		return nil, errs.Coded(errs.Invalid, CodePublicPolicy, "This resource policy contains a statement that grants broad access to the secret.")
	}
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:PutResourcePolicy", secretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		sec.ResourcePolicy = policy
		return tx.Secrets().Update(ctx, sec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkResourcePolicy(policy string) error {
	if len(policy) > MaxPolicy {
		return errs.Coded(errs.Invalid, CodeMalformedPolicy, "The resource policy is larger than %d characters.", MaxPolicy)
	}
	if probs := iam.CheckPolicyDocument(policy, true); len(probs) > 0 {
		return errs.Coded(errs.Invalid, CodeMalformedPolicy, "%s", probs[0].Message)
	}
	return nil
}

// GetPolicy returns a secret's resource policy ("" when none).
func (s *Service) GetPolicy(ctx context.Context, p iam.Principal, secretID string) (*Policy, error) {
	var out *Policy
	err := s.store.View(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:GetResourcePolicy", secretID)
		if err != nil {
			return err
		}
		out = &Policy{ARN: sec.ARN, Name: sec.Name, Policy: sec.ResourcePolicy}
		return nil
	})
	return out, err
}

// DeletePolicy removes a secret's resource policy.
func (s *Service) DeletePolicy(ctx context.Context, p iam.Principal, secretID string) (*Created, error) {
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:DeleteResourcePolicy", secretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		sec.ResourcePolicy = ""
		return tx.Secrets().Update(ctx, sec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ValidatePolicy checks a resource policy (and that the secret exists when
// one is named) and lists what is wrong with it.
func (s *Service) ValidatePolicy(ctx context.Context, p iam.Principal, secretID, policy string) ([]iam.PolicyProblem, error) {
	if policy == "" {
		return nil, required("resourcePolicy")
	}
	if len(policy) > MaxPolicy {
		return nil, errs.Coded(errs.Invalid, CodeMalformedPolicy, "The resource policy is larger than %d characters.", MaxPolicy)
	}
	if secretID != "" {
		if err := s.store.View(ctx, func(tx store.Tx) error {
			_, err := s.access(ctx, tx, p, "secretsmanager:ValidateResourcePolicy", secretID)
			return err
		}); err != nil {
			return nil, err
		}
	} else if err := s.authz.Authorize(ctx, p, iam.Request{Action: "secretsmanager:ValidateResourcePolicy", Resource: "*"}); err != nil {
		return nil, err
	}
	probs := iam.CheckPolicyDocument(policy, true)
	if iam.PolicyIsPublic(policy) {
		probs = append(probs, iam.PolicyProblem{Check: "BROAD_ACCESS", Message: "The policy grants access to every principal."})
	}
	return probs, nil
}
