package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Connection authorization types Sigil supports.
const (
	AuthAPIKey = "API_KEY"
	AuthBasic  = "BASIC"
)

// ConnectionInput creates a connection: how deliveries authenticate to an
// endpoint. The API key value or the password is also the key of each
// delivery's HMAC signature, so the receiver can verify what it gets with
// the secret it already knows.
type ConnectionInput struct {
	Name, Description, AuthorizationType string
	APIKeyName, APIKeyValue              string
	Username, Password                   string
}

// connectionSecret is what a connection keeps sealed.
type connectionSecret struct {
	APIKeyValue string `json:",omitempty"`
	Password    string `json:",omitempty"`
}

// connectionInfo is what a connection shows.
type connectionInfo struct {
	Description string `json:",omitempty"`
	APIKeyName  string `json:",omitempty"`
	Username    string `json:",omitempty"`
}

// Connection is a connection as Describe shows it (never its secret).
type Connection struct {
	ARN, Name, Description, AuthorizationType, State string
	APIKeyName, Username                             string
	CreatedAt, UpdatedAt                             time.Time
}

func (b *Bus) arn(account, kind, name string) string {
	return "arn:aws:events:" + b.region + ":" + account + ":" + kind + "/" + name + "/" + uuid.NewString()
}

func sealContext(arn string) []byte { return []byte("sigil:events:connection:" + arn) }

// CreateConnection stores a connection.
func (b *Bus) CreateConnection(ctx context.Context, p iam.Principal, in ConnectionInput) (*Connection, error) {
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:CreateConnection", Resource: "*"}); err != nil {
		return nil, err
	}
	var secret connectionSecret
	info := connectionInfo{Description: in.Description}
	switch in.AuthorizationType {
	case AuthAPIKey:
		if in.APIKeyName == "" || in.APIKeyValue == "" {
			return nil, validation("An API_KEY connection needs ApiKeyAuthParameters with ApiKeyName and ApiKeyValue.")
		}
		secret.APIKeyValue, info.APIKeyName = in.APIKeyValue, in.APIKeyName
	case AuthBasic:
		if in.Username == "" || in.Password == "" {
			return nil, validation("A BASIC connection needs BasicAuthParameters with Username and Password.")
		}
		secret.Password, info.Username = in.Password, in.Username
	case "OAUTH_CLIENT_CREDENTIALS":
		return nil, validation("OAUTH_CLIENT_CREDENTIALS connections are not supported by Sigil; use API_KEY or BASIC.")
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'authorizationType' failed to satisfy constraint: Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]", in.AuthorizationType)
	}
	arn := b.arn(p.Account, "connection", in.Name)
	plain, _ := json.Marshal(secret)
	sealed, err := b.sealer.Seal(plain, sealContext(arn))
	if err != nil {
		return nil, errs.Wrap(err, "seal connection")
	}
	infoJSON, _ := json.Marshal(info)
	now := b.clock.Now()
	c := &store.EventConnection{Account: p.Account, Name: in.Name, ARN: arn, AuthType: in.AuthorizationType, Auth: sealed,
		Info: infoJSON, CreatedAt: now, UpdatedAt: now}
	err = b.store.Update(ctx, func(tx store.Tx) error {
		err := tx.EventRules().PutConnection(ctx, c)
		if errors.Is(err, store.ErrConflict) {
			return errs.Coded(errs.Conflict, CodeResourceExists, "Connection %s already exists.", in.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return connectionView(c), nil
}

func connectionView(c *store.EventConnection) *Connection {
	var info connectionInfo
	_ = json.Unmarshal(c.Info, &info)
	return &Connection{ARN: c.ARN, Name: c.Name, Description: info.Description, AuthorizationType: c.AuthType, State: "AUTHORIZED",
		APIKeyName: info.APIKeyName, Username: info.Username, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// byName finds an account's connection or API destination by name.
func byName[T any](list []T, name func(T) string, want string) (T, bool) {
	for _, x := range list {
		if name(x) == want {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// DescribeConnection returns an account's connection by name.
func (b *Bus) DescribeConnection(ctx context.Context, p iam.Principal, name string) (*Connection, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:DescribeConnection", Resource: "*"}); err != nil {
		return nil, err
	}
	list, err := b.connections(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	c, ok := byName(list, func(c *store.EventConnection) string { return c.Name }, name)
	if !ok {
		return nil, notFound("Failed to describe the connection(s). Connection '%s' does not exist.", name)
	}
	return connectionView(c), nil
}

// ListConnections returns an account's connections.
func (b *Bus) ListConnections(ctx context.Context, p iam.Principal) ([]*Connection, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:ListConnections", Resource: "*"}); err != nil {
		return nil, err
	}
	list, err := b.connections(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	out := make([]*Connection, len(list))
	for i, c := range list {
		out[i] = connectionView(c)
	}
	return out, nil
}

func (b *Bus) connections(ctx context.Context, account string) (list []*store.EventConnection, err error) {
	err = b.store.View(ctx, func(tx store.Tx) error {
		list, err = tx.EventRules().ListConnections(ctx, account)
		return err
	})
	return list, err
}

// DeleteConnection deletes a connection no API destination uses and
// returns what it was.
func (b *Bus) DeleteConnection(ctx context.Context, p iam.Principal, name string) (*Connection, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:DeleteConnection", Resource: "*"}); err != nil {
		return nil, err
	}
	var deleted *Connection
	err := b.store.Update(ctx, func(tx store.Tx) error {
		list, err := tx.EventRules().ListConnections(ctx, p.Account)
		if err != nil {
			return err
		}
		c, ok := byName(list, func(c *store.EventConnection) string { return c.Name }, name)
		if !ok {
			return notFound("Failed to delete the connection(s). Connection '%s' does not exist.", name)
		}
		if n, err := tx.EventRules().DestinationsUsing(ctx, c.ARN); err != nil {
			return err
		} else if n > 0 {
			return errs.New(errs.State, "Connection %s is used by %d API destinations; delete them first.", name, n)
		}
		deleted = connectionView(c)
		return tx.EventRules().DeleteConnection(ctx, c.ARN)
	})
	return deleted, err
}

// DestinationInput creates an API destination.
type DestinationInput struct {
	Name, Description, ConnectionARN, Endpoint, Method string
	RateLimit                                          int
}

// Destination is an API destination as Describe shows it.
type Destination struct {
	ARN, Name, ConnectionARN, Endpoint, Method, State string
	RateLimit                                         int
	CreatedAt, UpdatedAt                              time.Time
}

var methods = []string{"POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}

// CreateApiDestination stores an API destination.
func (b *Bus) CreateApiDestination(ctx context.Context, p iam.Principal, in DestinationInput) (*Destination, error) {
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:CreateApiDestination", Resource: "*"}); err != nil {
		return nil, err
	}
	u, err := url.Parse(in.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, validation("InvocationEndpoint %q must be an http or https URL.", in.Endpoint)
	}
	ok := false
	for _, m := range methods {
		ok = ok || m == in.Method
	}
	if !ok {
		return nil, validation("1 validation error detected: Value '%s' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum value set: [%s]", in.Method, strings.Join(methods, ", "))
	}
	if in.RateLimit == 0 {
		in.RateLimit = 300
	}
	if in.RateLimit < 1 || in.RateLimit > 300 {
		return nil, validation("InvocationRateLimitPerSecond must be between 1 and 300.")
	}
	now := b.clock.Now()
	d := &store.EventDestination{Account: p.Account, Name: in.Name, ARN: b.arn(p.Account, "api-destination", in.Name),
		ConnectionARN: in.ConnectionARN, Endpoint: in.Endpoint, Method: in.Method, RateLimit: in.RateLimit, CreatedAt: now, UpdatedAt: now}
	err = b.store.Update(ctx, func(tx store.Tx) error {
		c, err := tx.EventRules().GetConnection(ctx, in.ConnectionARN)
		if errors.Is(err, store.ErrNotFound) || (err == nil && c.Account != p.Account) {
			return notFound("Connection %s does not exist.", in.ConnectionARN)
		}
		if err != nil {
			return err
		}
		err = tx.EventRules().PutDestination(ctx, d)
		if errors.Is(err, store.ErrConflict) {
			return errs.Coded(errs.Conflict, CodeResourceExists, "An API destination named %s already exists.", in.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return destinationView(d), nil
}

func destinationView(d *store.EventDestination) *Destination {
	return &Destination{ARN: d.ARN, Name: d.Name, ConnectionARN: d.ConnectionARN, Endpoint: d.Endpoint, Method: d.Method,
		State: "ACTIVE", RateLimit: d.RateLimit, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// DescribeApiDestination returns an API destination by name.
func (b *Bus) DescribeApiDestination(ctx context.Context, p iam.Principal, name string) (*Destination, error) {
	list, err := b.ListApiDestinations(ctx, p)
	if err != nil {
		return nil, err
	}
	d, ok := byName(list, func(d *Destination) string { return d.Name }, name)
	if !ok {
		return nil, notFound("Failed to describe the api-destination(s). An api-destination '%s' does not exist.", name)
	}
	return d, nil
}

// ListApiDestinations returns an account's API destinations.
func (b *Bus) ListApiDestinations(ctx context.Context, p iam.Principal) ([]*Destination, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:ListApiDestinations", Resource: "*"}); err != nil {
		return nil, err
	}
	var list []*store.EventDestination
	err := b.store.View(ctx, func(tx store.Tx) (err error) {
		list, err = tx.EventRules().ListDestinations(ctx, p.Account)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Destination, len(list))
	for i, d := range list {
		out[i] = destinationView(d)
	}
	return out, nil
}

// DeleteApiDestination deletes an API destination.
func (b *Bus) DeleteApiDestination(ctx context.Context, p iam.Principal, name string) error {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:DeleteApiDestination", Resource: "*"}); err != nil {
		return err
	}
	return b.store.Update(ctx, func(tx store.Tx) error {
		list, err := tx.EventRules().ListDestinations(ctx, p.Account)
		if err != nil {
			return err
		}
		d, ok := byName(list, func(d *store.EventDestination) string { return d.Name }, name)
		if !ok {
			return notFound("Failed to delete the api-destination(s). An api-destination '%s' does not exist.", name)
		}
		return tx.EventRules().DeleteDestination(ctx, d.ARN)
	})
}
