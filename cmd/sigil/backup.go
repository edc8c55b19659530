package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/server"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

// Backups are a logical, engine-neutral snapshot of the store, gzipped and
// sealed with the master key (seal streams, context backupContext). The
// master key itself is never in a backup: keep it separately.
var backupContext = []byte("sigil/backup/v1")

func newBackup(stdout io.Writer) *cobra.Command {
	var f serverFlags
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent, encrypted backup of the store (the server may keep running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			ctx := context.Background()
			st, keyring, err := server.OpenMaintenance(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			tmp, err := os.CreateTemp(filepath.Dir(out), ".sigil-backup-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
			sealed, err := keyring.NewWriter(tmp, backupContext)
			if err != nil {
				tmp.Close()
				return err
			}
			zw := gzip.NewWriter(sealed)
			stats, err := st.Dump(ctx, zw)
			if err == nil {
				err = zw.Close()
			}
			if err == nil {
				err = sealed.Close()
			}
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("backup failed: %w", err)
			}
			if err := os.Chmod(tmp.Name(), 0o600); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			info, _ := os.Stat(out)
			fmt.Fprintf(stdout, "backup written to %s (%d bytes, %s, %d rows: %s)\nIt is sealed with the master key %s; keep that key (DATA_DIR/master.key) separately.\n",
				out, info.Size(), st.Engine(), stats.Rows, summarize(stats), keyring.CurrentID())
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to")
	return cmd
}

func newRestore(stdout io.Writer) *cobra.Command {
	var f serverFlags
	var in string
	cmd := &cobra.Command{
		Use:   "restore --in FILE",
		Short: "Restore a backup into an empty store (DATA_DIR must hold the deployment's master.key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return fmt.Errorf("--in is required")
			}
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			ctx := context.Background()
			file, err := os.Open(in)
			if err != nil {
				return err
			}
			defer file.Close()
			st, keyring, err := server.OpenMaintenance(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			plain, err := keyring.NewReader(file, backupContext)
			if err != nil {
				return fmt.Errorf("cannot open the backup with the master key %s: %w", keyring.CurrentID(), err)
			}
			zr, err := gzip.NewReader(plain)
			if err != nil {
				return fmt.Errorf("the backup is corrupted: %w", err)
			}
			stats, err := st.Load(ctx, zr)
			if err != nil {
				return fmt.Errorf("restore failed, nothing was written: %w", err)
			}
			fmt.Fprintf(stdout, "restored %d rows into %s (%s)\n", stats.Rows, st.Engine(), summarize(stats))
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&in, "in", "", "backup file to restore")
	return cmd
}

func summarize(s *sqlstore.DumpStats) string {
	var parts []string
	for t, n := range s.Tables {
		parts = append(parts, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
