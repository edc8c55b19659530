package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/audit"
	"github.com/sigilhq/sigil/internal/server"
)

// newAudit is `sigil audit`: list and filter the audit trail through the
// CloudTrail LookupEvents API of a running server (with the AWS CLI's
// settings, like `sigil function`), and `sigil audit verify`, which checks
// the whole chain offline against the store.
func newAudit(stdout io.Writer) *cobra.Command {
	c := &nativeClient{stdout: stdout}
	var f struct {
		eventName, username, eventID, source, resourceName, resourceType, accessKey, readOnly string
		start, end                                                                            string
		max                                                                                   int
		asJSON                                                                                bool
	}
	cmd := &cobra.Command{
		Use:   "audit [--event-name NAME | --username USER | ...] [--start T] [--end T] [--max N] [--json]",
		Short: "List the audit trail of the caller's account, newest first (CloudTrail LookupEvents)",
		Long: `List the audit trail of the caller's account, newest first, through the
server's CloudTrail LookupEvents API. At most one attribute filter may be
given (as on AWS). --start and --end take RFC 3339 times, dates
(2006-01-02), or durations meaning "that long ago" (e.g. 1h).

'sigil audit verify' checks the whole hash chain offline (see its help).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := &cloudtrail.LookupEventsInput{}
			for _, a := range []struct {
				key cttypes.LookupAttributeKey
				v   string
			}{
				{cttypes.LookupAttributeKeyEventName, f.eventName}, {cttypes.LookupAttributeKeyUsername, f.username},
				{cttypes.LookupAttributeKeyEventId, f.eventID}, {cttypes.LookupAttributeKeyEventSource, f.source},
				{cttypes.LookupAttributeKeyResourceName, f.resourceName}, {cttypes.LookupAttributeKeyResourceType, f.resourceType},
				{cttypes.LookupAttributeKeyAccessKeyId, f.accessKey}, {cttypes.LookupAttributeKeyReadOnly, f.readOnly},
			} {
				if a.v != "" {
					in.LookupAttributes = append(in.LookupAttributes, cttypes.LookupAttribute{AttributeKey: a.key, AttributeValue: aws.String(a.v)})
				}
			}
			now := time.Now()
			var err error
			if in.StartTime, err = parseWhen(f.start, now); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
			if in.EndTime, err = parseWhen(f.end, now); err != nil {
				return fmt.Errorf("--end: %w", err)
			}
			if f.max < 1 {
				return fmt.Errorf("--max must be at least 1")
			}
			client, err := c.cloudTrail()
			if err != nil {
				return err
			}
			var events []cttypes.Event
			for len(events) < f.max {
				in.MaxResults = aws.Int32(int32(min(f.max-len(events), audit.MaxLookupResults)))
				out, err := client.LookupEvents(cmd.Context(), in)
				if err != nil {
					return err
				}
				events = append(events, out.Events...)
				if out.NextToken == nil {
					break
				}
				in.NextToken = out.NextToken
			}
			if f.asJSON {
				return printEventsJSON(stdout, events)
			}
			printEventsTable(stdout, events)
			return nil
		},
	}
	c.flags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.eventName, "event-name", "", "only events of this operation (e.g. CreateSecret)")
	fl.StringVar(&f.username, "username", "", "only events of this user (user name, role session name, or root)")
	fl.StringVar(&f.eventID, "event-id", "", "only the event with this ID")
	fl.StringVar(&f.source, "event-source", "", "only events of this service (e.g. kms.amazonaws.com)")
	fl.StringVar(&f.resourceName, "resource-name", "", "only events naming this resource (an ARN)")
	fl.StringVar(&f.resourceType, "resource-type", "", "only events naming a resource of this type (e.g. AWS::KMS::Key)")
	fl.StringVar(&f.accessKey, "access-key-id", "", "only events signed with this access key")
	fl.StringVar(&f.readOnly, "read-only", "", "only read-only (true) or only mutating (false) events")
	fl.StringVar(&f.start, "start", "", "oldest event time (RFC 3339, date, or duration ago)")
	fl.StringVar(&f.end, "end", "", "newest event time (RFC 3339, date, or duration ago)")
	fl.IntVar(&f.max, "max", 50, "at most this many events")
	fl.BoolVar(&f.asJSON, "json", false, "print the full CloudTrail records as a JSON array")
	cmd.AddCommand(newAuditVerify(stdout))
	return cmd
}

// cloudTrail returns an SDK client for the server, with the credentials,
// region, endpoint and CA bundle the AWS CLI would use.
func (c *nativeClient) cloudTrail() (*cloudtrail.Client, error) {
	if c.endpoint == "" {
		return nil, fmt.Errorf("set --endpoint-url or AWS_ENDPOINT_URL to the Sigil API")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, fmt.Errorf("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the credentials file written by `sigil serve` has them)")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if c.serverCA != "" {
		pem, err := os.ReadFile(c.serverCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", c.serverCA)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	cfg := aws.Config{
		Region:      c.region,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN")),
		HTTPClient:  hc,
	}
	return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(c.endpoint) }), nil
}

// parseWhen reads a time flag: RFC 3339, a date, or a duration ago.
func parseWhen(s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return &t, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil {
		t := now.Add(-d)
		return &t, nil
	}
	return nil, fmt.Errorf("%q is not an RFC 3339 time, a date or a duration", s)
}

func printEventsJSON(w io.Writer, events []cttypes.Event) error {
	records := make([]json.RawMessage, 0, len(events))
	for _, e := range events {
		records = append(records, json.RawMessage(aws.ToString(e.CloudTrailEvent)))
	}
	b, err := json.MarshalIndent(records, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, string(b))
	return nil
}

func printEventsTable(w io.Writer, events []cttypes.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tSOURCE\tUSER\tSOURCE IP\tERROR\tRESOURCE")
	for _, e := range events {
		var rec struct {
			SourceIP  string `json:"sourceIPAddress"`
			ErrorCode string `json:"errorCode"`
		}
		json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec)
		resource := "-"
		if len(e.Resources) > 0 {
			resource = aws.ToString(e.Resources[0].ResourceName)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToTime(e.EventTime).UTC().Format(time.RFC3339),
			aws.ToString(e.EventName), strings.TrimSuffix(aws.ToString(e.EventSource), ".amazonaws.com"),
			dash(aws.ToString(e.Username)), dash(rec.SourceIP), dash(rec.ErrorCode), resource)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errVerifyFailed makes `sigil audit verify` exit non-zero after it has
// printed what failed.
var errVerifyFailed = errors.New("the audit trail failed verification")

func newAuditVerify(stdout io.Writer) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole audit hash chain offline, against the store (the server may be running or stopped)",
		Long: `Check the whole audit trail against the store, offline: it opens the data
directory's master key and the store (--data-dir, --store, --config, as
'sigil serve' and 'sigil backup' do), unseals the audit MAC key, and checks
every record's MAC in chain order, that the indexed columns and resource rows
agree with the records, and that the chain's head names the last record. It
exits 0 when the trail is intact and 1 naming the first bad row (chain
position and eventID) otherwise. It only reads, and works whether or not a
server is running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			key, err := audit.LoadKey(ctx, st, keyring)
			if errors.Is(err, audit.ErrNoTrail) {
				fmt.Fprintln(stdout, "FAILED: this store has no audit trail (no audit key): nothing can be verified")
				return errVerifyFailed
			}
			if err != nil {
				return err
			}
			rep, err := audit.Verify(ctx, st, key, time.Now(), audit.DefaultGrace)
			if err != nil {
				return err
			}
			if rep.Problem != nil {
				fmt.Fprintf(stdout, "FAILED: %s\n(%d records before it verified)\n", rep.Problem.Error(), rep.Records)
				return errVerifyFailed
			}
			fmt.Fprintf(stdout, "OK: %d records verified; chain head at position %d, MAC %x\n", rep.Records, rep.Head.Position, rep.Head.MAC)
			if rep.Pending > 0 {
				fmt.Fprintf(stdout, "%d records are waiting for their call to finish (good MACs)\n", rep.Pending)
			}
			if rep.Stale > 0 {
				fmt.Fprintf(stdout, "warning: %d records of calls that never finished (good MACs) wait to be chained; a running server chains them\n", rep.Stale)
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}
