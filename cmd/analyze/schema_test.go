package analyze

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/jsonschema"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// TestReportSchema writes the JSON report of every capture in
// testdata/captures and validates it against docs/report.schema.json,
// strictly: a field the report writes but the schema does not document
// fails the test (update the schema, and bump schema_version in
// render.SchemaVersion and the schema when the change is incompatible).
func TestReportSchema(t *testing.T) {
	doc, err := os.ReadFile("../../docs/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := jsonschema.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"schema_version": {"description": "1; bumped on any incompatible change", "const": `+strconv.Itoa(render.SchemaVersion)+`}`)) {
		t.Errorf("docs/report.schema.json does not fix schema_version to render.SchemaVersion = %d", render.SchemaVersion)
	}
	paths, err := filepath.Glob("../../testdata/captures/*")
	if err != nil {
		t.Fatal(err)
	}
	validated := 0
	for _, p := range paths {
		if strings.HasSuffix(p, ".tsv") {
			continue
		}
		s := config.New()
		if filepath.Base(p) == "ipv4-ipv6-mixed.pcap" {
			// Exercise the settings the command adds: the filter.
			s.Filter.Expr = "tcp"
		}
		res, err := analysis.Run(s.Options([]string{p}))
		var ie *analysis.InputError
		if errors.As(err, &ie) {
			continue // not a capture (garbage.pcap, text.pcap, zero-bytes.pcap)
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		s.Annotate(res.Report)
		var b bytes.Buffer
		if err := render.WriteJSON(&b, res.Report); err != nil {
			t.Fatal(err)
		}
		res.Close()
		for _, e := range schema.Validate(b.Bytes(), true) {
			t.Errorf("%s: %v", filepath.Base(p), e)
		}
		validated++
	}
	if validated < 20 {
		t.Errorf("validated only %d reports", validated)
	}
}
