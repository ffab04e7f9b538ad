// Package jsonschema validates JSON values against the subset of JSON Schema
// (draft 2020-12) that docs/report.schema.json uses: type (a name or a
// list), properties, required, additionalProperties (a boolean or a
// schema), items, enum, const, minimum, maximum, pattern, format
// "date-time", and $ref to "#/$defs/NAME". Annotations (title,
// description, $comment, examples) are ignored; any other keyword is
// rejected when the schema is compiled, so the schema never relies on
// something this validator silently skips.
//
// Strict validation also reports properties an object schema does not
// declare when it says nothing about additionalProperties: consumers must
// accept added fields (the contract allows them), but the project's own
// test wants every field it writes documented in the schema.
package jsonschema

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Schema is a compiled schema.
type Schema struct {
	root *node
	defs map[string]*node
}

type node struct {
	types      []string
	props      map[string]*node
	required   []string
	addl       *bool // additionalProperties: false/true
	addlSchema *node
	items      *node
	enum       []any
	constV     any
	hasConst   bool
	min, max   *float64
	pattern    *regexp.Regexp
	format     string
	ref        string
}

var annotations = map[string]bool{"title": true, "description": true, "$comment": true, "examples": true,
	"$schema": true, "$id": true, "$defs": true, "default": true, "deprecated": true}

// Compile reads a schema document.
func Compile(doc []byte) (*Schema, error) {
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s := &Schema{defs: map[string]*node{}}
	if defs, ok := raw["$defs"].(map[string]any); ok {
		for name, d := range defs {
			dm, ok := d.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("schema: $defs/%s: not an object", name)
			}
			n, err := compile(dm, "#/$defs/"+name)
			if err != nil {
				return nil, err
			}
			s.defs[name] = n
		}
	}
	root, err := compile(raw, "#")
	if err != nil {
		return nil, err
	}
	s.root = root
	// Check that every $ref resolves.
	var check func(n *node) error
	seen := map[*node]bool{}
	check = func(n *node) error {
		if n == nil || seen[n] {
			return nil
		}
		seen[n] = true
		if n.ref != "" {
			if _, ok := s.defs[strings.TrimPrefix(n.ref, "#/$defs/")]; !ok {
				return fmt.Errorf("schema: unresolved $ref %s", n.ref)
			}
		}
		for _, p := range n.props {
			if err := check(p); err != nil {
				return err
			}
		}
		if err := check(n.items); err != nil {
			return err
		}
		return check(n.addlSchema)
	}
	if err := check(root); err != nil {
		return nil, err
	}
	for _, d := range s.defs {
		if err := check(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func compile(m map[string]any, at string) (*node, error) {
	n := &node{}
	for k, v := range m {
		var err error
		switch k {
		case "type":
			switch t := v.(type) {
			case string:
				n.types = []string{t}
			case []any:
				for _, x := range t {
					s, ok := x.(string)
					if !ok {
						return nil, fmt.Errorf("schema %s: type: want strings", at)
					}
					n.types = append(n.types, s)
				}
			default:
				return nil, fmt.Errorf("schema %s: type: want a string or a list", at)
			}
		case "properties":
			pm, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: properties: want an object", at)
			}
			n.props = map[string]*node{}
			for name, p := range pm {
				pmm, ok := p.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("schema %s/properties/%s: want an object", at, name)
				}
				if n.props[name], err = compile(pmm, at+"/properties/"+name); err != nil {
					return nil, err
				}
			}
		case "required":
			l, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: required: want a list", at)
			}
			for _, x := range l {
				s, _ := x.(string)
				n.required = append(n.required, s)
			}
		case "additionalProperties":
			switch a := v.(type) {
			case bool:
				n.addl = &a
			case map[string]any:
				if n.addlSchema, err = compile(a, at+"/additionalProperties"); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("schema %s: additionalProperties: want a boolean or a schema", at)
			}
		case "items":
			im, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: items: want a schema", at)
			}
			if n.items, err = compile(im, at+"/items"); err != nil {
				return nil, err
			}
		case "enum":
			l, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: enum: want a list", at)
			}
			n.enum = l
		case "const":
			n.constV, n.hasConst = v, true
		case "minimum", "maximum":
			f, ok := v.(float64)
			if !ok {
				return nil, fmt.Errorf("schema %s: %s: want a number", at, k)
			}
			if k == "minimum" {
				n.min = &f
			} else {
				n.max = &f
			}
		case "pattern":
			s, _ := v.(string)
			if n.pattern, err = regexp.Compile(s); err != nil {
				return nil, fmt.Errorf("schema %s: pattern: %w", at, err)
			}
		case "format":
			n.format, _ = v.(string)
			if n.format != "date-time" {
				return nil, fmt.Errorf("schema %s: format %q is not supported (only date-time)", at, n.format)
			}
		case "$ref":
			n.ref, _ = v.(string)
			if !strings.HasPrefix(n.ref, "#/$defs/") {
				return nil, fmt.Errorf("schema %s: $ref %q: only #/$defs/NAME is supported", at, n.ref)
			}
		default:
			if !annotations[k] {
				return nil, fmt.Errorf("schema %s: keyword %q is not supported by this validator", at, k)
			}
		}
	}
	return n, nil
}

// Validate checks a JSON document against the schema; strict also reports
// undeclared properties (see the package doc). It returns every violation,
// each with its JSON pointer.
func (s *Schema) Validate(doc []byte, strict bool) []error {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []error{fmt.Errorf("not JSON: %w", err)}
	}
	var errs []error
	s.validate(s.root, v, "", strict, &errs)
	return errs
}

func (s *Schema) validate(n *node, v any, at string, strict bool, errs *[]error) {
	if len(*errs) > 50 {
		return
	}
	fail := func(format string, args ...any) {
		p := at
		if p == "" {
			p = "/"
		}
		*errs = append(*errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	if n.ref != "" {
		s.validate(s.defs[strings.TrimPrefix(n.ref, "#/$defs/")], v, at, strict, errs)
	}
	if len(n.types) > 0 {
		ok := false
		for _, t := range n.types {
			if typeOK(t, v) {
				ok = true
			}
		}
		if !ok {
			fail("type %s, want %s", typeName(v), strings.Join(n.types, " or "))
			return
		}
	}
	if len(n.enum) > 0 {
		ok := false
		for _, e := range n.enum {
			if equal(e, v) {
				ok = true
			}
		}
		if !ok {
			fail("value %v not in enum %v", v, n.enum)
		}
	}
	if n.hasConst && !equal(n.constV, v) {
		fail("value %v, want %v", v, n.constV)
	}
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		if n.min != nil && f < *n.min {
			fail("%v below minimum %v", f, *n.min)
		}
		if n.max != nil && f > *n.max {
			fail("%v above maximum %v", f, *n.max)
		}
	case string:
		if n.pattern != nil && !n.pattern.MatchString(x) {
			fail("%q does not match %s", x, n.pattern)
		}
		if n.format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				fail("%q is not an RFC 3339 date-time", x)
			}
		}
	case []any:
		if n.items != nil {
			for i, e := range x {
				s.validate(n.items, e, fmt.Sprintf("%s/%d", at, i), strict, errs)
			}
		}
	case map[string]any:
		for _, r := range n.required {
			if _, ok := x[r]; !ok {
				fail("missing required property %q", r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := at + "/" + k
			if ps, ok := n.props[k]; ok {
				s.validate(ps, x[k], p, strict, errs)
				continue
			}
			switch {
			case n.addlSchema != nil:
				s.validate(n.addlSchema, x[k], p, strict, errs)
			case n.addl != nil && !*n.addl:
				fail("property %q is not allowed", k)
			case n.addl == nil && strict && n.props != nil:
				fail("property %q is not documented in the schema", k)
			}
		}
	}
}

func typeOK(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f) && !strings.ContainsAny(n.String(), ".eE")
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// equal compares an enum or const value (decoded without UseNumber) with a
// document value (decoded with it).
func equal(a, b any) bool {
	if n, ok := b.(json.Number); ok {
		f, err := n.Float64()
		af, ok2 := a.(float64)
		return err == nil && ok2 && f == af
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}
