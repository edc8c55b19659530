package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

var ctx = context.Background()

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

type allow struct{ denied bool }

func (a allow) Authorize(_ context.Context, p iam.Principal, r iam.Request) error {
	if a.denied {
		return errs.Coded(errs.Denied, "AccessDenied", "%s is not allowed to %s", p.ARN, r.Action)
	}
	return nil
}

type env struct {
	path  string // the SQLite file
	store *sqlstore.Store
	log   *Log
	clock *clock.Fake
	key   Key
	seal  *seal.Keyring
}

func newEnv(t *testing.T, opts ...Options) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "sigil.db"), clock: clock.NewFake(t0)}
	var err error
	if e.store, err = sqlstore.Open(ctx, "sqlite:"+e.path, sqlstore.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	mk, err := seal.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.seal = seal.NewKeyring(mk)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.FlushEvery = max(o.FlushEvery, 10*time.Millisecond)
	if e.log, err = New(ctx, e.store, e.seal, e.clock, allow{}, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.log.Close(ctx) })
	if e.key, err = LoadKey(ctx, e.store, e.seal); err != nil {
		t.Fatal(err)
	}
	return e
}

var alice = iam.Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: "AKIAALICE"}

// read records a read-only call that touches no store.
func (e *env) read(name string, p iam.Principal, req, resp string, err error) string {
	_, c := e.log.Begin(ctx, Info{Source: "secretsmanager.amazonaws.com", Name: name, RequestID: "req-" + name, SourceIP: "192.0.2.1", UserAgent: "test"})
	c.SetRequest([]byte(req))
	c.SetPrincipal(p)
	c.Finish([]byte(resp), err)
	return c.EventID()
}

// write records a call that changes something through the wrapped store.
func (e *env) write(t *testing.T, name string, p iam.Principal, req, resp string) string {
	t.Helper()
	cctx, c := e.log.Begin(ctx, Info{Source: "secretsmanager.amazonaws.com", Name: name, RequestID: "req-" + name})
	c.SetRequest([]byte(req))
	c.SetPrincipal(p)
	err := Wrap(e.store).Update(cctx, func(tx store.Tx) error {
		return tx.Meta().Put(cctx, "test-"+c.EventID(), "changed")
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Finish([]byte(resp), nil)
	return c.EventID()
}

func (e *env) flush(t *testing.T) {
	t.Helper()
	if err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (e *env) verify(t *testing.T) *Report {
	t.Helper()
	rep, err := Verify(ctx, e.store, e.key, e.clock.Now(), DefaultGrace)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// sqlExec changes the database behind the store's back, as someone with
// only database access could.
func (e *env) sqlExec(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", query)
	}
}

const secretARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"

// fill records five calls: reads, a failure, writes.
func (e *env) fill(t *testing.T) []string {
	t.Helper()
	ids := []string{
		e.read("GetSecretValue", alice, `{"SecretId":"db"}`, `{"ARN":"`+secretARN+`","SecretString":"s3cret"}`, nil),
		e.write(t, "CreateSecret", alice, `{"Name":"db","SecretString":"s3cret"}`, `{"ARN":"`+secretARN+`","Name":"db"}`),
		e.read("DescribeSecret", alice, `{"SecretId":"nope"}`, ``, errs.Coded(errs.NotFound, "ResourceNotFound", "Secrets Manager can't find the specified secret.")),
		e.write(t, "PutSecretValue", alice, `{"SecretId":"`+secretARN+`","SecretString":"n3w"}`, `{"ARN":"`+secretARN+`","VersionId":"v2"}`),
		e.read("ListSecrets", alice, `{}`, `{"SecretList":[]}`, nil),
	}
	e.flush(t)
	return ids
}

func TestChainAndLookup(t *testing.T) {
	e := newEnv(t)
	ids := e.fill(t)
	rep := e.verify(t)
	if rep.Problem != nil || rep.Records != 5 || rep.Head.Position != 5 || rep.Pending != 0 {
		t.Fatalf("verify: %+v %v", rep, rep.Problem)
	}
	out, err := e.log.Lookup(ctx, alice, LookupInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 5 || out.NextToken != "" {
		t.Fatalf("lookup: %d events, token %q", len(out.Events), out.NextToken)
	}
	// Every event once, each with its record.
	seen := map[string]Record{}
	for _, ev := range out.Events {
		var rec Record
		if err := json.Unmarshal([]byte(ev.Record), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.EventID != ev.ID || ev.Username != "alice" || ev.AccessKeyID != "AKIAALICE" {
			t.Fatalf("event %+v / record %+v", ev, rec)
		}
		seen[ev.ID] = rec
		if strings.Contains(ev.Record, "s3cret") || strings.Contains(ev.Record, "n3w") {
			t.Fatalf("a secret value is in the record: %s", ev.Record)
		}
	}
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			t.Fatalf("event %s missing", id)
		}
	}
	create, failed, get := seen[ids[1]], seen[ids[2]], seen[ids[0]]
	if create.ReadOnly || create.ResponseElements == nil || !strings.Contains(string(create.ResponseElements), secretARN) ||
		create.RequestID != "req-CreateSecret" || len(create.AdditionalEventData) != 0 {
		t.Fatalf("CreateSecret record: %+v", create)
	}
	if failed.ErrorCode != "ResourceNotFound" || !strings.Contains(failed.ErrorMessage, "can't find") {
		t.Fatalf("failed call record: %+v", failed)
	}
	if !get.ReadOnly || string(get.ResponseElements) != "null" || len(get.Resources) != 1 || get.Resources[0].ARN != secretARN ||
		get.Resources[0].Type != "AWS::SecretsManager::Secret" || get.UserIdentity.Type != "IAMUser" || get.SourceIPAddress != "192.0.2.1" {
		t.Fatalf("GetSecretValue record: %+v", get)
	}

	// Filters.
	for _, tc := range []struct {
		attr, value string
		want        int
	}{
		{"EventName", "CreateSecret", 1}, {"ReadOnly", "true", 3}, {"ReadOnly", "false", 2}, {"Username", "alice", 5},
		{"Username", "bob", 0}, {"ResourceName", secretARN, 3}, {"ResourceType", "AWS::SecretsManager::Secret", 3},
		{"EventSource", "secretsmanager.amazonaws.com", 5}, {"AccessKeyId", "AKIAALICE", 5}, {"EventId", ids[3], 1},
	} {
		out, err := e.log.Lookup(ctx, alice, LookupInput{Attributes: []Attribute{{tc.attr, tc.value}}})
		if err != nil || len(out.Events) != tc.want {
			t.Errorf("%s=%s: %d events, want %d (%v)", tc.attr, tc.value, len(out.Events), tc.want, err)
		}
	}
	// Another account sees nothing.
	other := iam.Principal{Account: "999988887777", ARN: "arn:aws:iam::999988887777:root"}
	if out, err := e.log.Lookup(ctx, other, LookupInput{}); err != nil || len(out.Events) != 0 {
		t.Fatalf("another account sees %d events (%v)", len(out.Events), err)
	}
}

func TestLookupPagingAndErrors(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		e.clock.Advance(time.Second)
		ids = append(ids, e.read(fmt.Sprintf("GetSecretValue%d", i%2), alice, `{}`, `{}`, nil))
	}
	e.flush(t)
	var got []string
	in := LookupInput{MaxResults: 3}
	for pages := 0; ; pages++ {
		out, err := e.log.Lookup(ctx, alice, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range out.Events {
			got = append(got, ev.ID)
		}
		if out.NextToken == "" {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		in.NextToken = out.NextToken
	}
	for i := range ids { // newest first
		if got[i] != ids[len(ids)-1-i] {
			t.Fatalf("order: got %v, want %v reversed", got, ids)
		}
	}
	// A time range: the 2nd to 4th records (inclusive).
	out, err := e.log.Lookup(ctx, alice, LookupInput{Start: t0.Add(2 * time.Second), End: t0.Add(4 * time.Second)})
	if err != nil || len(out.Events) != 3 || out.Events[0].ID != ids[3] || out.Events[2].ID != ids[1] {
		t.Fatalf("time range: %+v %v", out, err)
	}
	for _, tc := range []struct {
		in   LookupInput
		code errs.Code
	}{
		{LookupInput{Attributes: []Attribute{{"EventName", "a"}, {"Username", "b"}}}, CodeInvalidAttributes},
		{LookupInput{Attributes: []Attribute{{"Color", "a"}}}, CodeInvalidAttributes},
		{LookupInput{Attributes: []Attribute{{"EventName", ""}}}, CodeInvalidAttributes},
		{LookupInput{Attributes: []Attribute{{"ReadOnly", "yes"}}}, CodeInvalidAttributes},
		{LookupInput{MaxResults: 51}, CodeInvalidMaxResults},
		{LookupInput{MaxResults: -1}, CodeInvalidMaxResults},
		{LookupInput{Start: t0.Add(time.Hour), End: t0}, CodeInvalidTimeRange},
		{LookupInput{NextToken: "garbage"}, CodeInvalidNextToken},
		{LookupInput{NextToken: in.NextToken, MaxResults: 3, Attributes: []Attribute{{"EventName", "GetSecretValue0"}}}, CodeInvalidNextToken},
	} {
		if _, err := e.log.Lookup(ctx, alice, tc.in); errs.CodeOf(err) != tc.code {
			t.Errorf("%+v: %v, want %s", tc.in, err, tc.code)
		}
	}
	denied := &Log{store: e.log.store, authz: allow{denied: true}}
	if _, err := denied.Lookup(ctx, alice, LookupInput{}); errs.KindOf(err) != errs.Denied {
		t.Fatalf("lookup without permission: %v", err)
	}
}

func TestWriteRecordCommitsWithTheChange(t *testing.T) {
	e := newEnv(t)
	cctx, c := e.log.Begin(ctx, Info{Source: "kms.amazonaws.com", Name: "CreateKey", RequestID: "r1"})
	c.SetPrincipal(alice)
	wrapped := Wrap(e.store)
	// A failed transaction leaves no record.
	boom := errors.New("boom")
	if err := wrapped.Update(cctx, func(tx store.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n := e.pending(t); n != 0 {
		t.Fatalf("%d pending records after a rollback", n)
	}
	// A committed one carries the record, before the call finishes; a
	// second write of the same call adds none.
	for range 2 {
		if err := wrapped.Update(cctx, func(tx store.Tx) error { return tx.Meta().Put(cctx, "k", "v") }); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.pending(t); n != 1 {
		t.Fatalf("%d pending records after the change, want 1", n)
	}
	if rep := e.verify(t); rep.Problem != nil || rep.Pending != 1 {
		t.Fatalf("verify with a pending record: %+v %v", rep, rep.Problem)
	}
	c.Finish([]byte(`{"KeyMetadata":{"KeyId":"k1"}}`), nil)
	c.Finish(nil, boom) // only the first Finish counts
	e.flush(t)
	if n := e.pending(t); n != 0 {
		t.Fatalf("%d pending records after Finish", n)
	}
	rep := e.verify(t)
	if rep.Problem != nil || rep.Records != 1 {
		t.Fatalf("verify: %+v %v", rep, rep.Problem)
	}
	out, _ := e.log.Lookup(ctx, alice, LookupInput{})
	if len(out.Events) != 1 || !strings.Contains(out.Events[0].Record, `"keyMetadata":{"keyId":"k1"}`) || strings.Contains(out.Events[0].Record, "errorCode") {
		t.Fatalf("record: %+v", out.Events)
	}
}

func (e *env) pending(t *testing.T) int {
	var n int
	err := e.store.View(ctx, func(tx store.Tx) error {
		p, err := tx.AuditEvents().Pending(ctx, e.clock.Now().Add(time.Hour), 100)
		n = len(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOrphansChainedAfterGrace(t *testing.T) {
	e := newEnv(t)
	cctx, c := e.log.Begin(ctx, Info{Source: "kms.amazonaws.com", Name: "ScheduleKeyDeletion", RequestID: "r1"})
	c.SetPrincipal(alice)
	if err := Wrap(e.store).Update(cctx, func(tx store.Tx) error { return tx.Meta().Put(cctx, "k", "v") }); err != nil {
		t.Fatal(err)
	}
	// The node "crashes": Finish never comes.
	if n, err := e.log.ChainOrphans(ctx, nil); err != nil || n != 0 {
		t.Fatalf("chained %d records within the grace period (%v)", n, err)
	}
	e.clock.Advance(DefaultGrace + time.Second)
	if rep := e.verify(t); rep.Problem != nil || rep.Stale != 1 {
		t.Fatalf("verify with a stale pending record: %+v %v", rep, rep.Problem)
	}
	if n, err := e.log.ChainOrphans(ctx, nil); err != nil || n != 1 {
		t.Fatalf("chained %d orphans (%v)", n, err)
	}
	rep := e.verify(t)
	if rep.Problem != nil || rep.Records != 1 || rep.Stale != 0 {
		t.Fatalf("verify: %+v %v", rep, rep.Problem)
	}
	out, _ := e.log.Lookup(ctx, alice, LookupInput{})
	if len(out.Events) != 1 || !strings.Contains(out.Events[0].Record, "sigilOutcome") {
		t.Fatalf("orphan record: %+v", out.Events)
	}
	// A Finish arriving now is dropped (the record is chained already),
	// and the chain stays intact.
	c.Finish(nil, nil)
	e.flush(t)
	if rep := e.verify(t); rep.Problem != nil || rep.Records != 1 {
		t.Fatalf("verify after a late Finish: %+v %v", rep, rep.Problem)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, e *env, ids []string)
		pos    int64  // the position the report must name (0: none)
		id     int    // the record (index into ids) it must name, -1: none
		reason string // a word of the reason
	}{
		{"edited body", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_events SET body = replace(body, '192.0.2.1', '198.51.100.7') WHERE position = 3`)
		}, 3, 2, "MAC"},
		{"edited indexed column", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_events SET username = 'mallory' WHERE position = 2`)
		}, 2, 1, "username"},
		{"edited error code", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_events SET error_code = '' WHERE position = 3`)
		}, 3, 2, "error_code"},
		{"deleted middle row", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `DELETE FROM audit_events WHERE position = 3`)
		}, 3, -1, "missing"},
		{"deleted last row", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `DELETE FROM audit_events WHERE position = 5`)
		}, 5, -1, "deleted"},
		{"deleted last row and head moved back", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `DELETE FROM audit_events WHERE position = 5`)
			e.sqlExec(t, `UPDATE audit_chain SET position = 4, mac = (SELECT mac FROM audit_events WHERE position = 4)`)
		}, 0, -1, "head"},
		{"inserted row", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `INSERT INTO audit_events (position, event_id, account_id, event_time, event_name, event_source, read_only,
				username, access_key_id, request_id, error_code, body, mac)
				SELECT 6, 'forged', account_id, event_time, event_name, event_source, read_only, username, access_key_id,
				request_id, error_code, replace(body, event_id, 'forged'), mac FROM audit_events WHERE position = 5`)
		}, 6, -1, "inserted"},
		{"rows swapped", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_events SET position = -position WHERE position IN (1, 2)`)
			e.sqlExec(t, `UPDATE audit_events SET position = 3 + position WHERE position IN (-1, -2)`)
		}, 1, 1, "MAC"},
		{"resource row removed", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `DELETE FROM audit_event_resources WHERE position = 1`)
		}, 0, -1, "resource"},
		{"resource row retargeted", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_event_resources SET resource_name = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:other-AbCdEf' WHERE position = 2`)
		}, 0, -1, "resource"},
		{"head tag", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `UPDATE audit_chain SET tag = X'00'`)
		}, 0, -1, "head"},
		{"head deleted", func(t *testing.T, e *env, ids []string) {
			e.sqlExec(t, `DELETE FROM audit_chain`)
		}, 0, -1, "head"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ids := e.fill(t)
			if rep := e.verify(t); rep.Problem != nil {
				t.Fatalf("before tampering: %v", rep.Problem)
			}
			tc.tamper(t, e, ids)
			rep := e.verify(t)
			p := rep.Problem
			if p == nil {
				t.Fatal("tampering not detected")
			}
			if p.Position != tc.pos || (tc.id >= 0 && p.EventID != ids[tc.id]) || !strings.Contains(p.Error(), tc.reason) {
				t.Fatalf("report %q (position %d, eventID %q); want position %d, record %d, %q", p.Error(), p.Position, p.EventID, tc.pos, tc.id, tc.reason)
			}
		})
	}
}

func TestVerifyDetectsTamperedPending(t *testing.T) {
	e := newEnv(t)
	cctx, c := e.log.Begin(ctx, Info{Source: "kms.amazonaws.com", Name: "DisableKey", RequestID: "r1"})
	c.SetPrincipal(alice)
	if err := Wrap(e.store).Update(cctx, func(tx store.Tx) error { return tx.Meta().Put(cctx, "k", "v") }); err != nil {
		t.Fatal(err)
	}
	e.sqlExec(t, `UPDATE audit_pending SET body = replace(body, 'DisableKey', 'EnableKey')`)
	rep := e.verify(t)
	if rep.Problem == nil || rep.Problem.EventID != c.EventID() || !strings.Contains(rep.Problem.Error(), "MAC") {
		t.Fatalf("report %+v", rep.Problem)
	}
	// The orphan job leaves it alone.
	e.clock.Advance(DefaultGrace + time.Second)
	if n, err := e.log.ChainOrphans(ctx, nil); err != nil || n != 0 {
		t.Fatalf("chained a tampered orphan: %d %v", n, err)
	}
}

func TestBatcherFlushAndClose(t *testing.T) {
	e := newEnv(t, Options{FlushEvery: time.Hour, BatchSize: 64}) // only size and Flush write
	const workers, each = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				e.read("GetSecretValue", alice, `{"SecretId":"db"}`, `{}`, nil)
			}
		}()
	}
	wg.Wait()
	e.flush(t)
	rep := e.verify(t)
	if rep.Problem != nil || rep.Records != workers*each {
		t.Fatalf("after Flush: %d records (%v), want %d", rep.Records, rep.Problem, workers*each)
	}
	// Records queued at Close are written by Close.
	e.read("GetSecretValue", alice, `{}`, `{}`, nil)
	if err := e.log.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// And one finished after Close on its own.
	e.read("GetSecretValue", alice, `{}`, `{}`, nil)
	if rep := e.verify(t); rep.Problem != nil || rep.Records != workers*each+2 {
		t.Fatalf("after Close: %d records (%v)", rep.Records, rep.Problem)
	}
}

func TestKeyIsSealedAndStable(t *testing.T) {
	e := newEnv(t)
	var sealed string
	e.store.View(ctx, func(tx store.Tx) (err error) {
		sealed, err = tx.Meta().Get(ctx, metaKey)
		return err
	})
	if sealed == "" || strings.Contains(sealed, string(e.key)) {
		t.Fatal("the audit key is not stored sealed")
	}
	// A second log on the same store uses the same key.
	l2, err := New(ctx, e.store, e.seal, e.clock, allow{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(ctx)
	if string(l2.key) != string(e.key) {
		t.Fatal("the audit key changed")
	}
	// Another master key cannot open it.
	mk, _ := seal.NewMasterKey([]byte(strings.Repeat("k", 32)))
	if _, err := LoadKey(ctx, e.store, seal.NewKeyring(mk)); err == nil {
		t.Fatal("another master key opened the audit key")
	}
	// A store with a key but no head is refused.
	e.sqlExec(t, `DELETE FROM audit_chain`)
	if _, err := New(ctx, e.store, e.seal, e.clock, allow{}, Options{}); err == nil || !strings.Contains(err.Error(), "head") {
		t.Fatalf("started without a chain head: %v", err)
	}
}
