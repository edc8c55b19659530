// Package deploy is the native management API of certificate deployment
// (X-Amz-Target "SigilDeploy.*", SigV4 signing name "sigil", used by
// `sigil deploy`): enrolment tokens, agents, install profiles, deployments
// and the inventory of installed certificates.
package deploy

import (
	"context"
	"time"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/deploy"
	"github.com/sigilhq/sigil/internal/errs"
)

// Errors maps deployment errors to wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		deploy.CodeInUse:            "ResourceInUseException",
		"ResourceExistsException":   "ResourceExistsException",
		"ResourceNotFoundException": "ResourceNotFoundException",
		deploy.CodeInvalidToken:     "InvalidEnrollmentTokenException",
		deploy.CodeNotAssigned:      "AccessDeniedException",
		deploy.CodeGeneration:       "AssignmentSupersededException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "ResourceNotFoundException",
		errs.Invalid:  "ValidationException",
		errs.Conflict: "ConflictException",
		errs.State:    "InvalidStateException",
		errs.Denied:   "AccessDeniedException",
	},
}

// AgentInfo tells agents where to connect: the agent listener's URL and
// the SHA-256 of the CA certificate its TLS certificate chains to.
type AgentInfo struct {
	URL, CASHA256 string
}

// Service returns the operation table; info describes the agent listener
// (shown with new enrolment tokens).
func Service(d *deploy.Deployments, info func() AgentInfo) *awsjson.Service {
	h := handlers{d, info}
	return &awsjson.Service{
		TargetPrefix: "SigilDeploy",
		SigningName:  "sigil",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"CreateEnrollmentToken": awsjson.Op(h.createToken),
			"ListEnrollmentTokens":  awsjson.Op(h.listTokens),
			"DeleteEnrollmentToken": awsjson.Op(h.deleteToken),
			"ListAgents":            awsjson.Op(h.listAgents),
			"DescribeAgent":         awsjson.Op(h.describeAgent),
			"TagAgent":              awsjson.Op(h.tagAgent),
			"DeregisterAgent":       awsjson.Op(h.deregister),
			"PutProfile":            awsjson.Op(h.putProfile),
			"ListProfiles":          awsjson.Op(h.listProfiles),
			"DeleteProfile":         awsjson.Op(h.deleteProfile),
			"CreateDeployment":      awsjson.Op(h.create),
			"DescribeDeployment":    awsjson.Op(h.describe),
			"ListDeployments":       awsjson.Op(h.list),
			"DeleteDeployment":      awsjson.Op(h.delete),
			"Redeploy":              awsjson.Op(h.redeploy),
			"ListInstallations":     awsjson.Op(h.inventory),
			"PutDeploymentTrust":    awsjson.Op(h.putTrust),
			"GetDeploymentTrust":    awsjson.Op(h.getTrust),
		},
	}
}

type handlers struct {
	d    *deploy.Deployments
	info func() AgentInfo
}

// CreateTokenInput creates an enrolment token.
type CreateTokenInput struct {
	Tags            map[string]string `json:"Tags,omitempty"`
	Description     string            `json:"Description,omitempty"`
	LifetimeSeconds int64             `json:"LifetimeSeconds,omitempty"`
}

// Token is an enrolment token; Token (the secret) is set only in the
// answer to CreateEnrollmentToken, and AgentCaSha256 names the agent
// listener's CA for `sigil agent --ca-sha256`.
type Token struct {
	TokenId     string            `json:"TokenId"`
	Token       string            `json:"EnrollmentToken,omitempty"`
	Tags        map[string]string `json:"Tags"`
	Description string            `json:"Description,omitempty"`
	CreatedBy   string            `json:"CreatedBy"`
	CreatedAt   *awsjson.Time     `json:"CreatedAt"`
	ExpiresAt   *awsjson.Time     `json:"ExpiresAt"`
	UsedAt      *awsjson.Time     `json:"UsedAt,omitempty"`
	UsedBy      string            `json:"UsedBy,omitempty"`
	// Where agents enrol (CreateEnrollmentToken only).
	AgentEndpoint string `json:"AgentEndpoint,omitempty"`
	AgentCaSha256 string `json:"AgentCaSha256,omitempty"`
}

func tokenOut(t *deploy.Token) Token {
	return Token{TokenId: t.ID, Tags: t.Tags, Description: t.Description, CreatedBy: t.CreatedBy,
		CreatedAt: awsjson.TimePtr(t.CreatedAt), ExpiresAt: awsjson.TimePtr(t.ExpiresAt), UsedAt: awsjson.TimePtr(t.UsedAt), UsedBy: t.UsedBy}
}

func (h handlers) createToken(ctx context.Context, c *awsjson.Call, in *CreateTokenInput) (*Token, error) {
	t, secret, err := h.d.CreateToken(ctx, c.Principal, deploy.TokenInput{Tags: in.Tags, Description: in.Description,
		Lifetime: time.Duration(in.LifetimeSeconds) * time.Second})
	if err != nil {
		return nil, err
	}
	out := tokenOut(t)
	out.Token = secret
	if h.info != nil {
		i := h.info()
		out.AgentEndpoint, out.AgentCaSha256 = i.URL, i.CASHA256
	}
	return &out, nil
}

// ListTokensOutput lists tokens.
type ListTokensOutput struct {
	Tokens []Token `json:"Tokens"`
}

func (h handlers) listTokens(ctx context.Context, c *awsjson.Call, _ *struct{}) (*ListTokensOutput, error) {
	ts, err := h.d.ListTokens(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListTokensOutput{Tokens: []Token{}}
	for _, t := range ts {
		out.Tokens = append(out.Tokens, tokenOut(t))
	}
	return out, nil
}

type idInput struct {
	TokenId string `json:"TokenId"`
	AgentId string `json:"AgentId"`
	Name    string `json:"Name"`
}

func (h handlers) deleteToken(ctx context.Context, c *awsjson.Call, in *idInput) (*struct{}, error) {
	if in.TokenId == "" {
		return nil, awsjson.Required("tokenId")
	}
	return nil, h.d.DeleteToken(ctx, c.Principal, in.TokenId)
}

// Agent is an agent.
type Agent struct {
	AgentId      string            `json:"AgentId"`
	AgentArn     string            `json:"AgentArn"`
	Hostname     string            `json:"Hostname"`
	Tags         map[string]string `json:"Tags"`
	Status       string            `json:"Status"`
	AgentVersion string            `json:"AgentVersion,omitempty"`
	CertSerial   string            `json:"CertificateSerial"`
	CertNotAfter *awsjson.Time     `json:"CertificateNotAfter,omitempty"`
	EnrolledAt   *awsjson.Time     `json:"EnrolledAt"`
	LastSeenAt   *awsjson.Time     `json:"LastSeenAt"`
	Installed    []Installation    `json:"Installations,omitempty"`
}

func agentOut(a *deploy.Agent) Agent {
	return Agent{AgentId: a.ID, AgentArn: a.ARN, Hostname: a.Hostname, Tags: a.Tags, Status: a.Status, AgentVersion: a.AgentVersion,
		CertSerial: a.CertSerial, CertNotAfter: awsjson.TimePtr(a.CertNotAfter), EnrolledAt: awsjson.TimePtr(a.EnrolledAt),
		LastSeenAt: awsjson.TimePtr(a.LastSeenAt)}
}

// ListAgentsOutput lists agents.
type ListAgentsOutput struct {
	Agents []Agent `json:"Agents"`
}

func (h handlers) listAgents(ctx context.Context, c *awsjson.Call, _ *struct{}) (*ListAgentsOutput, error) {
	as, err := h.d.ListAgents(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListAgentsOutput{Agents: []Agent{}}
	for _, a := range as {
		out.Agents = append(out.Agents, agentOut(a))
	}
	return out, nil
}

func (h handlers) describeAgent(ctx context.Context, c *awsjson.Call, in *idInput) (*Agent, error) {
	if in.AgentId == "" {
		return nil, awsjson.Required("agentId")
	}
	a, inst, err := h.d.DescribeAgent(ctx, c.Principal, in.AgentId)
	if err != nil {
		return nil, err
	}
	out := agentOut(a)
	out.Installed = installationsOut(inst)
	return &out, nil
}

// TagAgentInput changes an agent's tags.
type TagAgentInput struct {
	AgentId    string            `json:"AgentId"`
	Tags       map[string]string `json:"Tags,omitempty"`
	RemoveKeys []string          `json:"RemoveKeys,omitempty"`
}

func (h handlers) tagAgent(ctx context.Context, c *awsjson.Call, in *TagAgentInput) (*Agent, error) {
	if in.AgentId == "" {
		return nil, awsjson.Required("agentId")
	}
	a, err := h.d.TagAgent(ctx, c.Principal, in.AgentId, in.Tags, in.RemoveKeys)
	if err != nil {
		return nil, err
	}
	out := agentOut(a)
	return &out, nil
}

func (h handlers) deregister(ctx context.Context, c *awsjson.Call, in *idInput) (*struct{}, error) {
	if in.AgentId == "" {
		return nil, awsjson.Required("agentId")
	}
	return nil, h.d.DeregisterAgent(ctx, c.Principal, in.AgentId)
}

func (h handlers) putProfile(ctx context.Context, c *awsjson.Call, in *deploy.Profile) (*struct{}, error) {
	return nil, h.d.PutProfile(ctx, c.Principal, *in)
}

// ListProfilesOutput lists profiles.
type ListProfilesOutput struct {
	Profiles []deploy.Profile `json:"Profiles"`
}

func (h handlers) listProfiles(ctx context.Context, c *awsjson.Call, _ *struct{}) (*ListProfilesOutput, error) {
	ps, err := h.d.ListProfiles(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	return &ListProfilesOutput{Profiles: ps}, nil
}

func (h handlers) deleteProfile(ctx context.Context, c *awsjson.Call, in *idInput) (*struct{}, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.d.DeleteProfile(ctx, c.Principal, in.Name)
}

// CreateInput creates a deployment.
type CreateInput struct {
	Name           string            `json:"Name"`
	CertificateArn string            `json:"CertificateArn,omitempty"`
	SecretId       string            `json:"SecretId,omitempty"`
	TargetTags     map[string]string `json:"TargetTags"`
	TargetAccount  string            `json:"TargetAccount,omitempty"`
	Profile        string            `json:"Profile"`
	Overrides      *deploy.Profile   `json:"Overrides,omitempty"`
}

// Deployment is a deployment.
type Deployment struct {
	Name                string            `json:"Name"`
	DeploymentArn       string            `json:"DeploymentArn"`
	SourceArn           string            `json:"SourceArn"`
	TargetTags          map[string]string `json:"TargetTags"`
	TargetAccount       string            `json:"TargetAccount,omitempty"`
	SourceError         string            `json:"SourceError,omitempty"`
	ProfileName         string            `json:"ProfileName"`
	Profile             deploy.Profile    `json:"Profile"`
	PassphraseSecretArn string            `json:"PassphraseSecretArn,omitempty"`
	Serial              string            `json:"Serial,omitempty"`
	CreatedBy           string            `json:"CreatedBy"`
	CreatedAt           *awsjson.Time     `json:"CreatedAt"`
	UpdatedAt           *awsjson.Time     `json:"UpdatedAt"`
	Targets             []Installation    `json:"Targets,omitempty"`
}

func deploymentOut(d *deploy.Deployment) *Deployment {
	return &Deployment{Name: d.Name, DeploymentArn: d.ARN, SourceArn: d.SourceARN, TargetTags: d.TargetTags, TargetAccount: d.TargetAccount, SourceError: d.SourceError, ProfileName: d.ProfileName,
		Profile: d.Profile, PassphraseSecretArn: d.PassphraseSecretARN, Serial: d.Serial, CreatedBy: d.CreatedBy,
		CreatedAt: awsjson.TimePtr(d.CreatedAt), UpdatedAt: awsjson.TimePtr(d.UpdatedAt), Targets: installationsOut(d.Targets)}
}

func (h handlers) create(ctx context.Context, c *awsjson.Call, in *CreateInput) (*Deployment, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	var o deploy.Profile
	if in.Overrides != nil {
		o = *in.Overrides
	}
	d, err := h.d.CreateDeployment(ctx, c.Principal, deploy.CreateInput{Name: in.Name, CertificateARN: in.CertificateArn,
		SecretID: in.SecretId, TargetTags: in.TargetTags, TargetAccount: in.TargetAccount, Profile: in.Profile, Overrides: o})
	if err != nil {
		return nil, err
	}
	return deploymentOut(d), nil
}

func (h handlers) describe(ctx context.Context, c *awsjson.Call, in *idInput) (*Deployment, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	d, err := h.d.DescribeDeployment(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return deploymentOut(d), nil
}

// ListOutput lists deployments.
type ListOutput struct {
	Deployments []*Deployment `json:"Deployments"`
}

func (h handlers) list(ctx context.Context, c *awsjson.Call, _ *struct{}) (*ListOutput, error) {
	ds, err := h.d.ListDeployments(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListOutput{Deployments: []*Deployment{}}
	for _, d := range ds {
		out.Deployments = append(out.Deployments, deploymentOut(d))
	}
	return out, nil
}

func (h handlers) delete(ctx context.Context, c *awsjson.Call, in *idInput) (*struct{}, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.d.DeleteDeployment(ctx, c.Principal, in.Name)
}

func (h handlers) redeploy(ctx context.Context, c *awsjson.Call, in *idInput) (*Deployment, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	d, err := h.d.Redeploy(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return deploymentOut(d), nil
}

// Installation is a row of the inventory.
type Installation struct {
	Deployment    string        `json:"Deployment"`
	DeploymentArn string        `json:"DeploymentArn"`
	SourceArn     string        `json:"SourceArn"`
	AgentId       string        `json:"AgentId"`
	Hostname      string        `json:"Hostname"`
	AgentStatus   string        `json:"AgentStatus"`
	Paths         []string      `json:"Paths"`
	Serial        string        `json:"InstalledSerial,omitempty"`
	InstalledAt   *awsjson.Time `json:"InstalledAt,omitempty"`
	Status        string        `json:"Status"`
	DesiredSerial string        `json:"DesiredSerial,omitempty"`
	Attempts      int           `json:"Attempts"`
	Message       string        `json:"Message,omitempty"`
	UpdatedAt     *awsjson.Time `json:"UpdatedAt"`
}

func installationsOut(in []*deploy.Installation) []Installation {
	out := []Installation{}
	for _, i := range in {
		paths := i.Paths
		if paths == nil {
			paths = []string{}
		}
		out = append(out, Installation{Deployment: i.Deployment, DeploymentArn: i.DeploymentARN, SourceArn: i.SourceARN,
			AgentId: i.AgentID, Hostname: i.Hostname, AgentStatus: i.AgentStatus, Paths: paths, Serial: i.Serial,
			InstalledAt: awsjson.TimePtr(i.InstalledAt), Status: i.Status, DesiredSerial: i.DesiredSerial, Attempts: i.Attempts,
			Message: i.Message, UpdatedAt: awsjson.TimePtr(i.UpdatedAt)})
	}
	return out
}

// InventoryInput filters the inventory.
type InventoryInput struct {
	SourceArn  string `json:"SourceArn,omitempty"`
	AgentId    string `json:"AgentId,omitempty"`
	Deployment string `json:"Deployment,omitempty"`
}

// InventoryOutput is the inventory.
type InventoryOutput struct {
	Installations []Installation `json:"Installations"`
}

func (h handlers) inventory(ctx context.Context, c *awsjson.Call, in *InventoryInput) (*InventoryOutput, error) {
	inst, err := h.d.ListInstallations(ctx, c.Principal, deploy.InventoryFilter{SourceARN: in.SourceArn, AgentID: in.AgentId, Deployment: in.Deployment})
	if err != nil {
		return nil, err
	}
	return &InventoryOutput{Installations: installationsOut(inst)}, nil
}

// Trust lists the accounts whose deployments may select this account's
// agents.
type Trust struct {
	TrustedAccounts []string `json:"TrustedAccounts"`
}

func (h handlers) putTrust(ctx context.Context, c *awsjson.Call, in *Trust) (*struct{}, error) {
	return nil, h.d.PutTrust(ctx, c.Principal, in.TrustedAccounts)
}

func (h handlers) getTrust(ctx context.Context, c *awsjson.Call, _ *struct{}) (*Trust, error) {
	list, err := h.d.GetTrust(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	return &Trust{TrustedAccounts: list}, nil
}
