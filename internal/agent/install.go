package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/api/agentapi"
	"github.com/sigilhq/sigil/internal/pki"
)

// process installs one assignment and reports the result. Errors are
// reported to the server, never returned: the next assignment goes on.
func (a *Agent) process(ctx context.Context, as agentapi.Assignment) {
	log := a.log.With("deployment", as.Deployment, "generation", as.Generation)
	var m agentapi.MaterialResponse
	u := fmt.Sprintf("%s%s/%s/material?generation=%d", a.cfg.Server, agentapi.PathAssignments, as.DeploymentID, as.Generation)
	if err := call(ctx, a.client, "GET", u, nil, &m); err != nil {
		log.Warn("could not fetch the assignment's material", "err", err)
		return
	}
	log = log.With("serial", m.Serial)
	res := a.install(ctx, &m)
	if res.ok {
		log.Info("certificate installed and verified", "paths", res.paths)
	} else {
		log.Warn("certificate not installed", "reason", res.message)
	}
	rep := agentapi.ReportRequest{Generation: m.Generation, Succeeded: res.ok, ServedSerial: res.served, Message: res.message, Paths: res.paths}
	ru := fmt.Sprintf("%s%s/%s/report", a.cfg.Server, agentapi.PathAssignments, as.DeploymentID)
	for attempt := 0; attempt < 5; attempt++ {
		err := call(ctx, a.client, "POST", ru, rep, nil)
		if err == nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable && ae.Status < 500 {
			log.Warn("the server refused the report", "err", err)
			return
		}
		log.Warn("report failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
}

type result struct {
	ok      bool
	served  string
	message string
	paths   []string
}

// written is one file the install replaced, and what it replaced.
type written struct {
	path    string
	existed bool // a previous version was saved to path+previousExt
}

// install writes the files, reloads, verifies and, when verification
// fails, restores the previous files and reloads again.
func (a *Agent) install(ctx context.Context, m *agentapi.MaterialResponse) result {
	p := m.Profile
	var paths []string
	modes := make([]os.FileMode, len(m.Files))
	for i, f := range m.Files {
		paths = append(paths, f.Path)
		mode, err := strconv.ParseUint(f.Mode, 8, 32)
		if err != nil || mode > 0o777 {
			return result{message: fmt.Sprintf("bad mode %q for %s", f.Mode, f.Path), paths: paths}
		}
		modes[i] = os.FileMode(mode)
	}
	if err := a.allowed(m); err != nil {
		return result{message: err.Error(), paths: paths}
	}
	uid, gid, err := owner(p.Owner, p.Group)
	if err != nil {
		return result{message: err.Error(), paths: paths}
	}
	var done []written
	fail := func(msg string) result {
		// A stop signal during the install still lets the rollback reload.
		if rerr := a.rollback(context.WithoutCancel(ctx), done, p.ReloadCommand); rerr != nil {
			msg += "; rollback: " + rerr.Error()
		} else if len(done) > 0 {
			msg += "; the previous files were restored and the server reloaded"
		}
		a.clearJournal()
		return result{message: msg, paths: paths}
	}

	// Phase 1: keep the previous version of every file, before any is
	// replaced.
	plan := make([]written, len(m.Files))
	for i, f := range m.Files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return fail(err.Error())
		}
		plan[i] = written{path: f.Path}
		if old, err := os.ReadFile(f.Path); err == nil {
			st, _ := os.Stat(f.Path)
			if err := writeAtomic(f.Path+previousExt, old, st.Mode().Perm(), -1, -1); err != nil {
				return fail("keep the previous " + f.Path + ": " + err.Error())
			}
			copyOwner(f.Path, f.Path+previousExt)
			plan[i].existed = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fail(err.Error())
		}
	}
	// From here until the outcome, a journal says what to undo should the
	// agent stop in the middle: the next start rolls back.
	if err := a.writeJournal(m, plan); err != nil {
		return fail("write the install journal: " + err.Error())
	}
	// Phase 2: replace the files.
	for i, f := range m.Files {
		if err := writeAtomic(f.Path, f.Content, modes[i], uid, gid); err != nil {
			return fail("write " + f.Path + ": " + err.Error())
		}
		done = append(done, plan[i])
	}
	if out, err := run(ctx, p.ReloadCommand); err != nil {
		return fail(fmt.Sprintf("reload command %q failed: %v: %s", strings.Join(p.ReloadCommand, " "), err, out))
	}
	served, err := a.verify(ctx, m)
	if err != nil {
		return fail("verification failed: " + err.Error())
	}
	a.clearJournal()
	return result{ok: true, served: served, paths: paths}
}

// journal is what an install in progress would have to undo.
type journal struct {
	DeploymentID string        `json:"DeploymentId"`
	Generation   int64         `json:"Generation"`
	Reload       []string      `json:"Reload"`
	Files        []journalFile `json:"Files"`
}

type journalFile struct {
	Path    string `json:"Path"`
	Existed bool   `json:"Existed"`
}

const journalName = "install.journal"

func (a *Agent) writeJournal(m *agentapi.MaterialResponse, plan []written) error {
	if a.cfg.StateDir == "" {
		return nil
	}
	j := journal{DeploymentID: m.DeploymentID, Generation: m.Generation, Reload: m.Profile.ReloadCommand}
	for _, w := range plan {
		j.Files = append(j.Files, journalFile{Path: w.path, Existed: w.existed})
	}
	b, _ := json.Marshal(j)
	return writeAtomic(a.path(journalName), b, 0o600, -1, -1)
}

func (a *Agent) clearJournal() {
	if a.cfg.StateDir != "" {
		os.Remove(a.path(journalName))
	}
}

// recoverInstall undoes an install the agent was stopped in the middle of
// (the journal is there): it restores the previous files, reloads, and
// tells the server the assignment failed.
func (a *Agent) recoverInstall(ctx context.Context) {
	raw, err := os.ReadFile(a.path(journalName))
	if err != nil {
		return
	}
	var j journal
	if err := json.Unmarshal(raw, &j); err != nil {
		a.log.Warn("unreadable install journal; removed", "err", err)
		a.clearJournal()
		return
	}
	var done []written
	for _, f := range j.Files {
		done = append(done, written{path: f.Path, existed: f.Existed})
	}
	msg := "the agent stopped in the middle of the install; the previous files were restored and the server reloaded"
	if err := a.rollback(ctx, done, j.Reload); err != nil {
		msg = "the agent stopped in the middle of the install; rollback: " + err.Error()
	}
	a.log.Warn("rolled back an interrupted install", "deployment", j.DeploymentID, "generation", j.Generation, "result", msg)
	a.clearJournal()
	if a.client != nil {
		u := fmt.Sprintf("%s%s/%s/report", a.cfg.Server, agentapi.PathAssignments, j.DeploymentID)
		if err := call(ctx, a.client, "POST", u, agentapi.ReportRequest{Generation: j.Generation, Message: msg}, nil); err != nil {
			a.log.Warn("could not report the interrupted install", "err", err)
		}
	}
}

// allowed applies the agent's own limits on where it writes and what it
// runs.
func (a *Agent) allowed(m *agentapi.MaterialResponse) error {
	if len(a.cfg.AllowDirs) > 0 {
		for _, f := range m.Files {
			ok := false
			for _, d := range a.cfg.AllowDirs {
				d = filepath.Clean(d)
				if strings.HasPrefix(filepath.Clean(f.Path), d+string(filepath.Separator)) {
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("this agent does not write %s (outside --allow-dir)", f.Path)
			}
		}
	}
	if len(a.cfg.AllowCommands) > 0 {
		cmd := strings.Join(m.Profile.ReloadCommand, " ")
		for _, c := range a.cfg.AllowCommands {
			if c == cmd {
				return nil
			}
		}
		return fmt.Errorf("this agent does not run %q (not an --allow-command)", cmd)
	}
	return nil
}

// rollback restores the files an install replaced (and removes those it
// created), then reloads.
func (a *Agent) rollback(ctx context.Context, done []written, reload []string) error {
	if len(done) == 0 {
		return nil
	}
	var errList []error
	for _, w := range done {
		if w.existed {
			errList = append(errList, restore(w.path))
		} else if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errList = append(errList, err)
		}
	}
	if len(reload) > 0 {
		if out, err := run(ctx, reload); err != nil {
			errList = append(errList, fmt.Errorf("reload after restoring: %v: %s", err, out))
		}
	}
	return errors.Join(errList...)
}

// restore puts the previous version of a file back, keeping the copy (a
// second rollback, after a crash, restores the same).
func restore(path string) error {
	old, err := os.ReadFile(path + previousExt)
	if err != nil {
		return err
	}
	st, err := os.Stat(path + previousExt)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, old, st.Mode().Perm(), -1, -1); err != nil {
		return err
	}
	copyOwner(path+previousExt, path)
	return nil
}

// verify connects to the verification address until it serves the
// assigned serial or the timeout passes.
func (a *Agent) verify(ctx context.Context, m *agentapi.MaterialResponse) (string, error) {
	p := m.Profile
	name := p.VerifyServerName
	if name == "" {
		for _, f := range m.Files {
			if f.Sensitive {
				continue
			}
			if certs, err := pki.ParseCertificatesPEM(f.Content); err == nil && len(certs) > 0 && len(certs[0].DNSNames) > 0 {
				name = certs[0].DNSNames[0]
				break
			}
		}
	}
	timeout := time.Duration(p.VerifyTimeout) * time.Second
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		served, err := servedSerial(ctx, p.VerifyAddress, name)
		switch {
		case err != nil:
			last = err.Error()
		case serialEqual(served, m.Serial):
			return pki.SerialHex(served), nil
		default:
			last = fmt.Sprintf("%s serves serial %s, not %s", p.VerifyAddress, pki.SerialHex(served), m.Serial)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s (after %s)", last, timeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// servedSerial returns the serial of the certificate a TLS server
// presents. Trust is not the question here, identity is: the handshake
// is only read, never used to send anything.
func servedSerial(ctx context.Context, addr, serverName string) (*big.Int, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 3 * time.Second},
		Config: &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.DialContext(cctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	certs := c.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s presented no certificate", addr)
	}
	return certs[0].SerialNumber, nil
}

// run runs a command without a shell, with a time limit.
func run(ctx context.Context, argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no command")
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s := strings.TrimSpace(out.String())
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s, err
}

// owner resolves a profile's owner and group (-1 keeps the agent's).
func owner(u, g string) (int, int, error) {
	uid, gid := -1, -1
	if u != "" {
		if n, err := strconv.Atoi(u); err == nil {
			uid = n
		} else {
			usr, err := user.Lookup(u)
			if err != nil {
				return 0, 0, fmt.Errorf("owner %q: %w", u, err)
			}
			uid, _ = strconv.Atoi(usr.Uid)
		}
	}
	if g != "" {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else {
			grp, err := user.LookupGroup(g)
			if err != nil {
				return 0, 0, fmt.Errorf("group %q: %w", g, err)
			}
			gid, _ = strconv.Atoi(grp.Gid)
		}
	}
	return uid, gid, nil
}

// writeAtomic writes data to a temporary file in the same directory,
// sets its mode and owner, syncs it and renames it over path: readers see
// the old file or the new one, never a part.
func writeAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// copyOwner gives dst the owner of src (best effort).
func copyOwner(src, dst string) {
	if st, err := os.Stat(src); err == nil {
		if sys, ok := statOwner(st); ok {
			os.Chown(dst, sys[0], sys[1])
		}
	}
}
