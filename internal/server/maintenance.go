package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

// OpenMaintenance opens the master key and the store of a configuration for
// offline work (backup, restore) without starting a server. It never creates
// a master key: restoring under a new key would make every sealed key
// unreadable. When the store already records a master key, it must be this
// one.
func OpenMaintenance(ctx context.Context, cfg config.Config) (*sqlstore.Store, *seal.Keyring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	keyPath := filepath.Join(cfg.DataDir, "master.key")
	mk, err := seal.LoadKeyFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("no master key at %s: copy the deployment's master.key there first", keyPath)
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlstore.Open(ctx, cfg.StoreURL(), sqlstore.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	keyring := seal.NewKeyring(mk)
	if err := checkMasterKey(ctx, st, keyring.CurrentID(), false); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, keyring, nil
}
