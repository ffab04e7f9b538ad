package jsonschema

import (
	"strings"
	"testing"
)

const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["v", "items"],
  "properties": {
    "v": {"const": 1},
    "sev": {"enum": ["info", "warning"]},
    "n": {"type": "integer", "minimum": 0, "maximum": 10},
    "f": {"type": ["number", "null"]},
    "t": {"type": "string", "format": "date-time"},
    "ep": {"type": "string", "pattern": "^[a-z]+:\\d+$"},
    "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    "m": {"type": "object", "additionalProperties": {"type": "integer"}},
    "closed": {"type": "object", "additionalProperties": false, "properties": {"a": {"type": "boolean"}}}
  },
  "$defs": {"item": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}
}`

func TestValidate(t *testing.T) {
	s, err := Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		doc    string
		strict bool
		want   []string // substrings of the errors, in order
	}{
		{`{"v":1,"items":[{"id":3}],"n":4,"f":null,"t":"2024-03-01T12:00:00.5Z","ep":"a:80","m":{"x":1},"closed":{"a":true}}`, true, nil},
		{`{"v":2,"items":[]}`, false, []string{"/v: value 2, want 1"}},
		{`{"v":1}`, false, []string{`/: missing required property "items"`}},
		{`{"v":1,"items":[{"id":"x"}]}`, false, []string{"/items/0/id: type string, want integer"}},
		{`{"v":1,"items":[{}]}`, false, []string{`/items/0: missing required property "id"`}},
		{`{"v":1,"items":[],"n":1.5}`, false, []string{"/n: type number, want integer"}},
		{`{"v":1,"items":[],"n":11}`, false, []string{"/n: 11 above maximum 10"}},
		{`{"v":1,"items":[],"n":-1}`, false, []string{"/n: -1 below minimum 0"}},
		{`{"v":1,"items":[],"sev":"fatal"}`, false, []string{"/sev: value fatal not in enum"}},
		{`{"v":1,"items":[],"t":"yesterday"}`, false, []string{"not an RFC 3339 date-time"}},
		{`{"v":1,"items":[],"ep":"A:1"}`, false, []string{"does not match"}},
		{`{"v":1,"items":[],"m":{"x":"y"}}`, false, []string{"/m/x: type string, want integer"}},
		{`{"v":1,"items":[],"closed":{"b":1}}`, false, []string{`/closed: property "b" is not allowed`}},
		{`{"v":1,"items":[],"extra":1}`, false, nil},
		{`{"v":1,"items":[],"extra":1}`, true, []string{`property "extra" is not documented`}},
		{`{"v":1,"items":[{"id":1,"more":2}]}`, true, []string{`/items/0: property "more" is not documented`}},
	}
	for _, tt := range tests {
		errs := s.Validate([]byte(tt.doc), tt.strict)
		if len(errs) != len(tt.want) {
			t.Errorf("%s: errors %v, want %d", tt.doc, errs, len(tt.want))
			continue
		}
		for i, e := range errs {
			if !strings.Contains(e.Error(), tt.want[i]) {
				t.Errorf("%s: error %q, want %q", tt.doc, e, tt.want[i])
			}
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, doc := range []string{
		`{"oneOf": [{"type": "string"}]}`,
		`{"$ref": "#/$defs/missing"}`,
		`{"$ref": "other.json"}`,
		`{"format": "email"}`,
		`{"type": 3}`,
		`not json`,
	} {
		if _, err := Compile([]byte(doc)); err == nil {
			t.Errorf("Compile(%s) succeeded", doc)
		}
	}
}
