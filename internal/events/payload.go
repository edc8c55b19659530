package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// What a target receives: the whole event, a constant (Input), a part of
// the event (InputPath), or a template filled from parts of it
// (InputTransformer) — which is how a Slack incoming webhook gets its
// {"text": ...}.

// pathStep is one step of a JSONPath: a field name or an array index.
type pathStep struct {
	field string
	index int // -1 for a field
}

var pathRE = regexp.MustCompile(`^\$((\.[A-Za-z0-9_\-]+)|(\[[0-9]+\]))*$`)

// parsePath parses the JSONPath subset EventBridge targets use: $, $.a.b,
// $.resources[0].
func parsePath(p string) ([]pathStep, error) {
	if !pathRE.MatchString(p) {
		return nil, fmt.Errorf("%q is not a JSONPath such as $.detail or $.resources[0]", p)
	}
	var steps []pathStep
	rest := p[1:]
	for rest != "" {
		if rest[0] == '.' {
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			steps = append(steps, pathStep{field: rest[1 : end+1], index: -1})
			rest = rest[end+1:]
			continue
		}
		end := strings.IndexByte(rest, ']')
		n, _ := strconv.Atoi(rest[1:end])
		steps = append(steps, pathStep{index: n})
		rest = rest[end+1:]
	}
	return steps, nil
}

// lookup follows a path in a decoded event; ok is false when it leads
// nowhere.
func lookup(v any, steps []pathStep) (any, bool) {
	for _, s := range steps {
		if s.index < 0 {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.field]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := v.([]any)
		if !ok || s.index >= len(a) {
			return nil, false
		}
		v = a[s.index]
	}
	return v, true
}

var placeholderRE = regexp.MustCompile(`<([A-Za-z0-9_.\-]+)>`)

// Payload builds what a target receives for an event.
func (t *Target) Payload(event []byte) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath == "" && t.InputTransformer == nil:
		return event, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if t.InputPath != "" {
		steps, err := parsePath(t.InputPath)
		if err != nil {
			return nil, err
		}
		part, ok := lookup(v, steps)
		if !ok {
			return []byte("null"), nil
		}
		return json.Marshal(part)
	}
	tr := t.InputTransformer
	values := map[string]any{}
	for name, p := range tr.InputPathsMap {
		steps, err := parsePath(p)
		if err != nil {
			return nil, err
		}
		if x, ok := lookup(v, steps); ok {
			values[name] = x
		}
	}
	tpl := tr.InputTemplate
	jsonTemplate := strings.HasPrefix(strings.TrimSpace(tpl), "{") || strings.HasPrefix(strings.TrimSpace(tpl), "[")
	var out strings.Builder
	last, quoted := 0, false
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(tpl, -1) {
		quoted = quoted != inString(tpl[last:m[0]])
		out.WriteString(tpl[last:m[0]])
		out.WriteString(render(tpl[m[2]:m[3]], values, event, jsonTemplate, quoted))
		last = m[1]
	}
	out.WriteString(tpl[last:])
	return []byte(out.String()), nil
}

// inString reports whether s leaves a JSON string open (an odd number of
// unescaped quotes).
func inString(s string) bool {
	open := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			open = !open
		}
	}
	return open
}

// render is a placeholder's replacement: in a JSON template a string goes
// in escaped inside quotes and quoted outside them, other values as JSON;
// in a text template values go in as text.
func render(name string, values map[string]any, event []byte, jsonTemplate, quoted bool) string {
	if name == "aws.events.event.json" {
		return string(event)
	}
	x, ok := values[name]
	if !ok {
		if jsonTemplate && !quoted {
			return "null"
		}
		return ""
	}
	if str, ok := x.(string); ok {
		if !jsonTemplate {
			return str
		}
		b, _ := json.Marshal(str)
		if quoted {
			return string(b[1 : len(b)-1])
		}
		return string(b)
	}
	b, _ := json.Marshal(x)
	return string(b)
}
