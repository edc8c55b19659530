package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/api/eventbridge"
)

// newEvents is `sigil events`: Sigil's own view of event delivery, beside
// what `aws events` manages (rules, targets, connections). It talks to a
// running server with the AWS CLI's settings, like `sigil function`.
func newEvents(stdout io.Writer) *cobra.Command {
	c := &nativeClient{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect event delivery to webhooks (rules and targets are managed with `aws events`)",
	}
	c.flags(cmd)
	var status string
	var limit int
	var asJSON bool
	deliveries := &cobra.Command{
		Use:   "deliveries [--status PENDING|DELIVERED|FAILED] [--max N] [--json]",
		Short: "List recent deliveries of events to targets, newest first: status, attempts, last answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out eventbridge.ListDeliveriesOutput
			in := eventbridge.ListDeliveriesInput{Status: status, Limit: limit}
			if err := c.call(cmd.Context(), eventbridge.NativeTargetPrefix+".ListDeliveries", in, &out); err != nil {
				return err
			}
			if asJSON {
				c.print(out)
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tSTATUS\tATTEMPTS\tLAST\tRULE\tTARGET\tEVENT")
			for _, d := range out.Deliveries {
				last := "-"
				switch {
				case d.LastError != "":
					last = d.LastError
				case d.LastStatusCode != 0:
					last = fmt.Sprintf("HTTP %d", d.LastStatusCode)
				}
				created := "-"
				if d.CreatedAt != nil {
					created = d.CreatedAt.Time.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", created, d.Status, d.Attempts, last, d.RuleArn, d.TargetId, d.EventId)
			}
			return tw.Flush()
		},
	}
	deliveries.Flags().StringVar(&status, "status", "", "only deliveries in this status")
	deliveries.Flags().IntVar(&limit, "max", 100, "at most this many (1-1000)")
	deliveries.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	var eventID string
	redrive := &cobra.Command{
		Use:   "redrive [--event-id ID]",
		Short: "Send dead-lettered (FAILED) deliveries again: of one event, or all of them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out eventbridge.RedriveOutput
			if err := c.call(cmd.Context(), eventbridge.NativeTargetPrefix+".RedriveDeliveries", eventbridge.RedriveInput{EventId: eventID}, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d deliveries pending again\n", out.Redriven)
			return nil
		},
	}
	redrive.Flags().StringVar(&eventID, "event-id", "", "only this event's deliveries")
	cmd.AddCommand(deliveries, redrive)
	return cmd
}
