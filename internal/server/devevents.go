package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// handleDevEvents lists the outbox of an account in dev mode, oldest first,
// so that tests and people trying Sigil out can see the events Sigil
// publishes before rules and targets deliver them anywhere:
//
//	GET /_sigil/dev/events?account=000000000000&after=CURSOR&limit=N
//	→ {"events": [<EventBridge envelope>...], "next": CURSOR}
//
// Without --dev it answers 403.
func (s *Server) handleDevEvents(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, msg string) { writeJSON(status, map[string]string{"message": msg}) }
	if s.devClock == nil {
		fail(http.StatusForbidden, "the event listing is available only when Sigil runs with --dev")
		return
	}
	q := r.URL.Query()
	account := q.Get("account")
	if account == "" {
		account = iam.DevAccount
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			fail(http.StatusBadRequest, "limit must be between 1 and 10000")
			return
		}
		limit = n
	}
	var afterTime time.Time
	var afterID string
	if v := q.Get("after"); v != "" {
		micros, id, ok := strings.Cut(v, "_")
		n, err := strconv.ParseInt(micros, 10, 64)
		if !ok || err != nil || id == "" {
			fail(http.StatusBadRequest, "after must be a cursor returned as next")
			return
		}
		afterTime, afterID = time.UnixMicro(n).UTC(), id
	}
	var list []*store.Event
	err := s.store.View(r.Context(), func(tx store.Tx) (err error) {
		list, err = tx.Events().List(r.Context(), account, afterTime, afterID, limit)
		return err
	})
	if err != nil {
		s.log.Error("list events", "err", err)
		fail(http.StatusInternalServerError, "could not list events")
		return
	}
	out := struct {
		Events []json.RawMessage `json:"events"`
		Next   string            `json:"next,omitempty"`
	}{Events: []json.RawMessage{}}
	for _, e := range list {
		out.Events = append(out.Events, e.Body)
	}
	if n := len(list); n > 0 {
		last := list[n-1]
		out.Next = strconv.FormatInt(last.Time.UnixMicro(), 10) + "_" + last.ID
	}
	writeJSON(http.StatusOK, out)
}
