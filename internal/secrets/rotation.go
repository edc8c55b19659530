package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
)

// The four rotation steps, in order.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

var steps = []string{StepCreate, StepSet, StepTest, StepFinish}

// BuiltinCertificateRotation is the name of the built-in rotation function
// that issues a new certificate and key into the secret. Any account can
// name it: arn:aws:lambda:REGION:ACCOUNT:function:sigil-certificate-rotation.
const BuiltinCertificateRotation = "sigil-certificate-rotation"

// maxAttempts bounds the retries of a failing rotation before it waits for
// the next scheduled rotation (or a new RotateSecret).
const maxAttempts = 5

// Invocation is one call of a rotation function, as a Lambda receives it.
type Invocation struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// Function is a webhook rotation function with its signing secret.
type Function struct {
	ARN      string
	URL      string
	CABundle []byte
	Secret   []byte
}

// Invoker calls webhook rotation functions (the outbound HTTP lives in an
// adapter). A nil error means the step succeeded.
type Invoker interface {
	Invoke(ctx context.Context, fn Function, call Invocation) error
}

// rotationState is the persisted progress of a rotation in progress.
type rotationState struct {
	Token     string    `json:"token"`
	Step      string    `json:"step"`
	Attempts  int       `json:"attempts"`
	StartedAt time.Time `json:"started"`
	LastError string    `json:"error,omitempty"`
	Exhausted bool      `json:"exhausted,omitempty"`
}

func loadState(sec *store.Secret) (*rotationState, error) {
	if len(sec.Rotation) == 0 {
		return nil, nil
	}
	var st rotationState
	if err := json.Unmarshal(sec.Rotation, &st); err != nil {
		return nil, errs.Wrap(err, "decode rotation state")
	}
	return &st, nil
}

func saveState(sec *store.Secret, st *rotationState) {
	if st == nil {
		sec.Rotation = nil
		return
	}
	sec.Rotation, _ = json.Marshal(st)
}

var lambdaARNRE = regexp.MustCompile(`^arn:aws:lambda:([a-z0-9-]+):([0-9]{12}):function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?$`)

// functionRef names a rotation function: its account and name.
func (s *Service) functionRef(p iam.Principal, arn string) (account, name string, err error) {
	if m := lambdaARNRE.FindStringSubmatch(arn); m != nil {
		if m[1] != s.region {
			return "", "", invalidRequest("The rotation function %s is in region %s; this Sigil serves %s.", arn, m[1], s.region)
		}
		return m[2], m[3], nil
	}
	if functionNameRE.MatchString(arn) {
		return p.Account, arn, nil
	}
	return "", "", validation("rotationLambdaARN", arn, "Member must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)")
}

func (s *Service) functionARN(account, name string) string {
	return "arn:aws:lambda:" + s.region + ":" + account + ":function:" + name
}

// RotateInput is a RotateSecret request.
type RotateInput struct {
	SecretID           string
	ClientRequestToken string
	RotationLambdaARN  string
	Rules              *RotationRules
	RotateImmediately  *bool // default true
}

// Rotate configures rotation and, unless RotateImmediately is false,
// starts one now. The steps run in the background; the answer carries the
// new version's ID.
func (s *Service) Rotate(ctx context.Context, p iam.Principal, in RotateInput) (*Created, error) {
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	var sched *schedule
	var rulesJSON []byte
	if in.Rules != nil {
		var err error
		if sched, err = parseRules(*in.Rules); err != nil {
			return nil, err
		}
		rulesJSON, _ = json.Marshal(in.Rules)
	}
	immediately := in.RotateImmediately == nil || *in.RotateImmediately
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:RotateSecret", in.SecretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		lambda := in.RotationLambdaARN
		if lambda == "" {
			lambda = sec.RotationLambdaARN
		}
		if lambda == "" {
			return invalidRequest("No Lambda rotation function ARN is associated with this secret.")
		}
		account, name, err := s.functionRef(p, lambda)
		if err != nil {
			return err
		}
		if name != BuiltinCertificateRotation {
			if _, err := tx.RotationFunctions().Get(ctx, account, name); errors.Is(err, store.ErrNotFound) {
				return invalidRequest("Secrets Manager cannot invoke the specified rotation function %s: no such function is registered (register it with `sigil function create`).", lambda)
			} else if err != nil {
				return err
			}
		} else if s.certs == nil {
			return invalidRequest("The built-in certificate rotation is not available on this server.")
		}
		lambda = s.functionARN(account, name)
		if rulesJSON == nil {
			if len(sec.RotationRules) == 0 {
				if !immediately {
					return invalidRequest("RotationRules are required to schedule rotation without rotating immediately.")
				}
			} else {
				var r RotationRules
				if err := json.Unmarshal(sec.RotationRules, &r); err != nil {
					return errs.Wrap(err, "decode rotation rules")
				}
				if sched, err = parseRules(r); err != nil {
					return err
				}
			}
		} else {
			sec.RotationRules = rulesJSON
		}
		st, err := loadState(sec)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		sec.RotationLambdaARN, sec.RotationEnabled = lambda, true
		if sched != nil {
			base := sec.LastRotatedAt
			if base.IsZero() {
				base = now
			}
			sec.NextRotationAt = sched.next(base)
		}
		switch {
		case st != nil && !st.Exhausted:
			return invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.")
		case st != nil:
			// A rotation that gave up resumes with its own token.
			st.Attempts, st.Exhausted, st.LastError = 0, false, ""
			out.VersionID = st.Token
			saveState(sec, st)
			sec.RotationDueAt = now
		case immediately:
			token := in.ClientRequestToken
			if token == "" {
				token = uuid.NewString()
			}
			if err := s.startRotation(ctx, tx, sec, token, now); err != nil {
				return err
			}
			out.VersionID = token
		default:
			sec.RotationDueAt = sec.NextRotationAt
		}
		return tx.Secrets().Update(ctx, sec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// startRotation creates the new version (no value yet) labelled
// AWSPENDING, as Secrets Manager does before calling createSecret, and
// records the rotation as due now. The caller saves sec.
func (s *Service) startRotation(ctx context.Context, tx store.Tx, sec *store.Secret, token string, now time.Time) error {
	v, err := tx.Secrets().GetVersion(ctx, sec.ID, token)
	switch {
	case err == nil && v.HasValue:
		return invalidRequest("The ClientRequestToken %s names an existing version; a rotation needs a new one.", token)
	case errors.Is(err, store.ErrNotFound):
		if err := tx.Secrets().PutVersion(ctx, &store.SecretVersion{SecretID: sec.ID, VersionID: token, CreatedAt: now}); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if err := tx.Secrets().SetStage(ctx, sec.ID, StagePending, token); err != nil {
		return err
	}
	saveState(sec, &rotationState{Token: token, Step: StepCreate, StartedAt: now})
	sec.RotationDueAt = now
	return s.publish(ctx, tx, sec, "RotationStarted", now, nil)
}

// Cancel turns rotation off. A rotation in progress stops; its AWSPENDING
// label is removed if its version never got a value.
func (s *Service) Cancel(ctx context.Context, p iam.Principal, secretID string) (*Created, error) {
	out := &Created{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:CancelRotateSecret", secretID)
		if err != nil {
			return err
		}
		if err := notDeleted(sec); err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		if !sec.RotationEnabled && len(sec.Rotation) == 0 {
			return invalidRequest("Rotation is not enabled for this secret.")
		}
		st, err := loadState(sec)
		if err != nil {
			return err
		}
		if st != nil {
			out.VersionID = st.Token
			if v, err := tx.Secrets().GetVersion(ctx, sec.ID, st.Token); err == nil && !v.HasValue {
				if err := tx.Secrets().RemoveStage(ctx, sec.ID, StagePending); err != nil {
					return err
				}
				if err := tx.Secrets().DeleteVersion(ctx, sec.ID, st.Token); err != nil {
					return err
				}
			}
		}
		saveState(sec, nil)
		sec.RotationEnabled, sec.RotationDueAt, sec.NextRotationAt = false, time.Time{}, time.Time{}
		return tx.Secrets().Update(ctx, sec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RotateDue runs the rotations whose time has come (scheduled ones and
// retries) and returns how many completed.
func (s *Service) RotateDue(ctx context.Context, fence scheduler.Fence) (int, error) {
	var ids []string
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		ids, err = tx.Secrets().RotationDue(ctx, s.clock.Now(), 20)
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		ok, err := s.rotateOne(ctx, fence, id)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// rotateOne runs the remaining steps of one secret's rotation. Progress is
// saved after every step, so a rotation interrupted by a crash or a
// failure resumes at the step that did not complete.
func (s *Service) rotateOne(ctx context.Context, fence scheduler.Fence, id string) (bool, error) {
	var sec *store.Secret
	var st *rotationState
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := fence(tx); err != nil {
			return err
		}
		var err error
		sec, err = tx.Secrets().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			sec = nil
			return nil
		} else if err != nil {
			return err
		}
		now := s.clock.Now()
		if sec.RotationDueAt.IsZero() || sec.RotationDueAt.After(now) {
			sec = nil
			return nil
		}
		if !sec.DeletedAt.IsZero() || !sec.RotationEnabled {
			sec.RotationDueAt = time.Time{}
			err := tx.Secrets().Update(ctx, sec)
			sec = nil
			return err
		}
		if st, err = loadState(sec); err != nil {
			return err
		}
		if st == nil || st.Exhausted {
			// The schedule came round: a new rotation (or a fresh start of
			// one that gave up, with its own token).
			token := uuid.NewString()
			if st != nil {
				token = st.Token
			}
			if err := s.startRotation(ctx, tx, sec, token, now); err != nil {
				return err
			}
			st, _ = loadState(sec)
		}
		// Hold the rotation while the steps run so that another tick does
		// not start it twice; a crash makes it due again after this.
		sec.RotationDueAt = now.Add(15 * time.Minute)
		return tx.Secrets().Update(ctx, sec)
	})
	if err != nil || sec == nil {
		return false, err
	}
	call := Invocation{SecretID: sec.ARN, ClientRequestToken: st.Token}
	start := 0
	for i, step := range steps {
		if step == st.Step {
			start = i
		}
	}
	for _, step := range steps[start:] {
		call.Step = step
		stepErr := s.invoke(ctx, sec, call)
		if stepErr == nil && step == StepFinish {
			stepErr = s.checkFinished(ctx, sec, st.Token)
		}
		if stepErr != nil {
			return false, s.failed(ctx, fence, id, step, stepErr)
		}
		if step == StepFinish {
			return true, s.finished(ctx, fence, id, st.Token)
		}
		if err := s.progress(ctx, fence, id, steps[indexOf(step)+1]); err != nil {
			return false, err
		}
	}
	return false, nil
}

func indexOf(step string) int {
	for i, s := range steps {
		if s == step {
			return i
		}
	}
	return -1
}

// invoke runs one step with the secret's rotation function.
func (s *Service) invoke(ctx context.Context, sec *store.Secret, call Invocation) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rotation function panicked: %v", r)
		}
	}()
	account, name, err := s.functionRef(servicePrincipal(sec.Account), sec.RotationLambdaARN)
	if err != nil {
		return err
	}
	if name == BuiltinCertificateRotation {
		if s.certs == nil {
			return errors.New("the built-in certificate rotation is not available")
		}
		return s.certs.step(ctx, sec, call)
	}
	var fn *store.RotationFunction
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		fn, err = tx.RotationFunctions().Get(ctx, account, name)
		return err
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("the rotation function %s is not registered", sec.RotationLambdaARN)
		}
		return err
	}
	secret, err := s.sealer.Open(fn.SecretSealed, functionSecretContext(fn.ARN))
	if err != nil {
		return fmt.Errorf("open the signing secret of %s: %w", fn.ARN, err)
	}
	defer clear(secret)
	return s.invoker.Invoke(ctx, Function{ARN: fn.ARN, URL: fn.URL, CABundle: fn.CABundle, Secret: secret}, call)
}

// checkFinished verifies that finishSecret made the new version current.
func (s *Service) checkFinished(ctx context.Context, sec *store.Secret, token string) error {
	var cur map[string]string
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		cur, err = tx.Secrets().Stages(ctx, sec.ID)
		return err
	}); err != nil {
		return err
	}
	if cur[StageCurrent] != token {
		return fmt.Errorf("finishSecret returned without moving AWSCURRENT to version %s", token)
	}
	return nil
}

// updateRotation runs fn on a secret in a fenced write transaction and
// saves the secret; fn sees the rotation in progress (nil when none).
func (s *Service) updateRotation(ctx context.Context, fence scheduler.Fence, id string, fn func(tx store.Tx, sec *store.Secret, st *rotationState) error) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		if err := fence(tx); err != nil {
			return err
		}
		sec, err := tx.Secrets().Get(ctx, id)
		if err != nil {
			return err
		}
		st, err := loadState(sec)
		if err != nil {
			return err
		}
		return fn(tx, sec, st)
	})
}

func (s *Service) progress(ctx context.Context, fence scheduler.Fence, id, next string) error {
	return s.updateRotation(ctx, fence, id, func(tx store.Tx, sec *store.Secret, st *rotationState) error {
		if st == nil {
			return nil
		}
		st.Step = next
		saveState(sec, st)
		return tx.Secrets().Update(ctx, sec)
	})
}

// finished records a completed rotation: AWSPENDING leaves the new
// version, the next rotation is scheduled.
func (s *Service) finished(ctx context.Context, fence scheduler.Fence, id, token string) (err error) {
	defer func() {
		if err == nil {
			s.tel.Rotation(true)
		}
	}()
	return s.updateRotation(ctx, fence, id, func(tx store.Tx, sec *store.Secret, _ *rotationState) error {
		now := s.clock.Now()
		cur, err := tx.Secrets().Stages(ctx, sec.ID)
		if err != nil {
			return err
		}
		if cur[StagePending] == token {
			if err := tx.Secrets().RemoveStage(ctx, sec.ID, StagePending); err != nil {
				return err
			}
		}
		saveState(sec, nil)
		sec.LastRotatedAt, sec.LastChangedAt = now, now
		sec.RotationDueAt, sec.NextRotationAt = time.Time{}, time.Time{}
		if sched := s.scheduleOf(sec); sched != nil && sec.RotationEnabled {
			sec.NextRotationAt = sched.next(now)
			sec.RotationDueAt = sec.NextRotationAt
		}
		if err := tx.Secrets().Update(ctx, sec); err != nil {
			return err
		}
		s.log.Info("secret rotated", "secret", sec.ARN, "version", token)
		return s.publish(ctx, tx, sec, "RotationSucceeded", now, map[string]any{"VersionId": token})
	})
}

func (s *Service) scheduleOf(sec *store.Secret) *schedule {
	if len(sec.RotationRules) == 0 {
		return nil
	}
	var r RotationRules
	if json.Unmarshal(sec.RotationRules, &r) != nil {
		return nil
	}
	sc, err := parseRules(r)
	if err != nil {
		return nil
	}
	return sc
}

// failed records a failed step: AWSCURRENT is untouched; the rotation is
// retried with backoff, and after maxAttempts waits for the schedule.
func (s *Service) failed(ctx context.Context, fence scheduler.Fence, id, step string, stepErr error) (err error) {
	defer func() {
		if err == nil {
			s.tel.Rotation(false)
		}
	}()
	return s.updateRotation(ctx, fence, id, func(tx store.Tx, sec *store.Secret, st *rotationState) error {
		if st == nil {
			return nil
		}
		now := s.clock.Now()
		st.Attempts++
		st.Step = step
		st.LastError = step + ": " + stepErr.Error()
		if st.Attempts >= maxAttempts {
			st.Exhausted = true
			sec.RotationDueAt = time.Time{}
			if sched := s.scheduleOf(sec); sched != nil {
				sec.NextRotationAt = sched.next(now)
				sec.RotationDueAt = sec.NextRotationAt
			}
		} else {
			sec.RotationDueAt = now.Add(s.retryBase << (st.Attempts - 1))
		}
		saveState(sec, st)
		if err := tx.Secrets().Update(ctx, sec); err != nil {
			return err
		}
		s.log.Warn("secret rotation step failed", "secret", sec.ARN, "step", step, "attempt", st.Attempts, "err", stepErr.Error())
		return s.publish(ctx, tx, sec, "RotationFailed", now, map[string]any{
			"errorMessage": st.LastError, "VersionId": st.Token, "Step": step, "Attempt": st.Attempts})
	})
}

// ---- rotation functions ----

func functionSecretContext(arn string) []byte { return []byte("sigil/rotation-function/" + arn) }

var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// RegisteredFunction is a rotation function as listed (never its secret).
type RegisteredFunction struct {
	ARN       string
	Name      string
	URL       string
	CreatedAt time.Time
}

// CreateFunction registers a webhook rotation function and returns it with
// its signing secret, which is shown only this once.
func (s *Service) CreateFunction(ctx context.Context, p iam.Principal, name, rawURL string, caBundle []byte) (*RegisteredFunction, string, error) {
	if !functionNameRE.MatchString(name) || name == BuiltinCertificateRotation {
		return nil, "", invalidParameter("A function name is 1 to 64 letters, digits, - and _, and %s is reserved.", BuiltinCertificateRotation)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, "", invalidParameter("The function URL %q is not an absolute https:// URL.", rawURL)
	}
	if u.Scheme == "http" && !s.allowHTTP {
		return nil, "", invalidParameter("The function URL must use https:// (plain http:// is accepted only in --dev mode).")
	}
	if len(caBundle) > 0 && !strings.Contains(string(caBundle), "-----BEGIN CERTIFICATE-----") {
		return nil, "", invalidParameter("The CA bundle must be PEM certificates.")
	}
	arn := s.functionARN(p.Account, name)
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "lambda:CreateFunction", Resource: arn}); err != nil {
		return nil, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", errs.Wrap(err, "function secret")
	}
	secret := hex.EncodeToString(raw)
	sealed, err := s.sealer.Seal([]byte(secret), functionSecretContext(arn))
	if err != nil {
		return nil, "", errs.Wrap(err, "seal function secret")
	}
	f := &store.RotationFunction{Account: p.Account, Name: name, ARN: arn, URL: rawURL, CABundle: caBundle,
		SecretSealed: sealed, CreatedAt: s.clock.Now()}
	err = s.store.Update(ctx, func(tx store.Tx) error { return tx.RotationFunctions().Insert(ctx, f) })
	if errors.Is(err, store.ErrConflict) {
		return nil, "", errs.Coded(errs.Conflict, CodeResourceExists, "A rotation function named %s already exists.", name)
	}
	if err != nil {
		return nil, "", err
	}
	return &RegisteredFunction{ARN: arn, Name: name, URL: rawURL, CreatedAt: f.CreatedAt}, secret, nil
}

// ListFunctions lists the caller's rotation functions.
func (s *Service) ListFunctions(ctx context.Context, p iam.Principal) ([]*RegisteredFunction, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "lambda:ListFunctions", Resource: "*"}); err != nil {
		return nil, err
	}
	var out []*RegisteredFunction
	err := s.store.View(ctx, func(tx store.Tx) error {
		fs, err := tx.RotationFunctions().List(ctx, p.Account)
		for _, f := range fs {
			out = append(out, &RegisteredFunction{ARN: f.ARN, Name: f.Name, URL: f.URL, CreatedAt: f.CreatedAt})
		}
		return err
	})
	return out, err
}

// DeleteFunction removes a rotation function.
func (s *Service) DeleteFunction(ctx context.Context, p iam.Principal, name string) error {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "lambda:DeleteFunction", Resource: s.functionARN(p.Account, name)}); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		err := tx.RotationFunctions().Delete(ctx, p.Account, name)
		if errors.Is(err, store.ErrNotFound) {
			return errs.New(errs.NotFound, "No rotation function named %s.", name)
		}
		return err
	})
}
