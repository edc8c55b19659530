package server

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

// handleDevClock moves the server clock forward in dev mode:
//
//	POST /_sigil/dev/clock {"advance":"720h"}  → {"now": ..., "offset": ...}
//	GET  /_sigil/dev/clock                      → the current state
//
// Without --dev it answers 403 and changes nothing.
func (s *Server) handleDevClock(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, msg string) { writeJSON(status, map[string]string{"message": msg}) }
	if s.devClock == nil {
		fail(http.StatusForbidden, "the dev clock is available only when Sigil runs with --dev")
		return
	}
	state := func() clockState {
		now := s.devClock.Now()
		return clockState{Now: now, Offset: s.devClock.Offset().String()}
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(http.StatusOK, state())
	case http.MethodPost:
		var req struct {
			Advance string `json:"advance"`
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err := json.Unmarshal(body, &req); err != nil || req.Advance == "" {
			fail(http.StatusBadRequest, `send {"advance":"<Go duration>"}, for example {"advance":"720h"}`)
			return
		}
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			fail(http.StatusBadRequest, "advance must be a non-negative Go duration such as 90m or 720h")
			return
		}
		s.devClock.Advance(d)
		s.log.Info("dev clock advanced", "by", d.String(), "now", s.devClock.Now())
		writeJSON(http.StatusOK, state())
	default:
		w.Header().Set("Allow", "GET, POST")
		fail(http.StatusMethodNotAllowed, "use GET or POST")
	}
}
