package detectors

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// labTruth is the part of a lab scenario's truth file (see
// ../shared/scenarios/README.md) the teardown detectors are scored on.
type labTruth struct {
	Scenario string `json:"scenario"`
	Name     string `json:"name"`
	Capture  struct {
		File string `json:"file"`
	} `json:"capture"`
	Parameters  json.RawMessage `json:"parameters"`
	Expectation json.RawMessage `json:"expectations"`
	Flows       []struct {
		Client    labEndpoint `json:"client"`
		Server    labEndpoint `json:"server"`
		FiveTuple string      `json:"five_tuple"`
		Component string      `json:"component"`
		Expected  []struct {
			Type string `json:"type"`
		} `json:"expected_findings"`
	} `json:"flows"`
}

type labEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

func (e labEndpoint) addrPort(t *testing.T) netip.AddrPort {
	a, err := netip.ParseAddr(e.IP)
	if err != nil {
		t.Fatalf("truth endpoint %q: %v", e.IP, err)
	}
	return netip.AddrPortFrom(a, e.Port)
}

// labAccept maps the truth's finding types to the teardown detectors that
// may report them (the scorer's table, teardown kinds only).
var labAccept = map[string][]Kind{
	"close_wait_leak":           {KindCloseWaitLeak},
	"server_idle_close":         {KindIdleTimeoutClose},
	"data_after_fin_rst":        {KindWriteAfterFINReset, KindStaleConnectionReuse},
	"data_after_fin_blackholed": {KindWriteAfterFINBlackholed},
	"fin_unanswered":            {KindCloseWaitLeak},
	"tls_handshake_stalled":     {KindTLSHandshakeAbandoned},
}

type flowPair struct{ a, b netip.AddrPort }

func pairOfRef(r FlowRef) flowPair {
	if r.Server.Addr().Less(r.Client.Addr()) || (r.Server.Addr() == r.Client.Addr() && r.Server.Port() < r.Client.Port()) {
		return flowPair{r.Server, r.Client}
	}
	return flowPair{r.Client, r.Server}
}

// labScenarios returns the lab truth files, or skips the test.
func labScenarios(t *testing.T) []string {
	dir := filepath.Join("..", "..", "shared", "scenarios")
	files, _ := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if len(files) == 0 {
		t.Skip("SKIP lab scenarios: no ../shared/scenarios/*.truth.json beside the repository")
	}
	sort.Strings(files)
	return files
}

// TestTeardownLabScenarios runs the teardown detectors over the real-stack
// lab captures and checks them as ../shared/tools/score does: every
// expected teardown finding is reported for its flow, no healthy flow is in
// a warning or critical teardown finding, and the inferred idle timeout,
// request timeout and drop window are within tolerance.
func TestTeardownLabScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP lab scenarios in -short mode")
	}
	for _, path := range labScenarios(t) {
		var tr labTruth
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Run(tr.Name, func(t *testing.T) {
			r := tdRunFile(t, filepath.Join(filepath.Dir(path), tr.Capture.File), DefaultConfig(), teardownSpecs())
			index := map[Kind]map[flowPair]Finding{}
			serious := map[flowPair][]string{}
			for _, f := range r.Findings {
				if index[f.Kind] == nil {
					index[f.Kind] = map[flowPair]Finding{}
				}
				for _, fl := range f.Flows {
					p := pairOfRef(fl)
					if _, ok := index[f.Kind][p]; !ok {
						index[f.Kind][p] = f
					}
					if f.Severity >= Warning {
						serious[p] = append(serious[p], f.Kind.String())
					}
				}
			}
			kindOf := func(component string) string {
				if tr.Scenario == "mixed" {
					return component
				}
				return tr.Scenario
			}
			byKind := map[string][]flowPair{}
			for _, fl := range tr.Flows {
				p := pairOfRef(FlowRef{Client: fl.Client.addrPort(t), Server: fl.Server.addrPort(t)})
				kind := kindOf(fl.Component)
				byKind[kind] = append(byKind[kind], p)
				if len(fl.Expected) == 0 {
					if len(serious[p]) > 0 {
						t.Errorf("false: healthy %s in %s", fl.FiveTuple, strings.Join(serious[p], ","))
					}
					continue
				}
				var wanted [][]Kind
				for _, e := range fl.Expected {
					if ks, ok := labAccept[e.Type]; ok {
						wanted = append(wanted, ks)
					}
				}
				if kind == "healthcheck-closewait" {
					wanted = append(wanted, []Kind{KindHealthcheckFINUnanswered})
				}
				if kind == "fin-blackhole" {
					wanted = append(wanted, []Kind{KindUpstreamTimeout})
				}
				for _, ks := range wanted {
					found := false
					for _, k := range ks {
						_, ok := index[k][p]
						found = found || ok
					}
					if !found {
						t.Errorf("missed: %s: %v", fl.FiveTuple, ks)
					}
				}
			}
			inferred := func(k Kind, pairs []flowPair, get func(Inferred) *float64) *float64 {
				for _, p := range pairs {
					if f, ok := index[k][p]; ok && get(f.Inferred) != nil {
						return get(f.Inferred)
					}
				}
				return nil
			}
			var params struct {
				IdleTimeoutS   *float64 `json:"idle_timeout_s"`
				ClientTimeoutS *float64 `json:"client_timeout_s"`
			}
			var exp struct {
				DropWindow *struct {
					Lo *float64 `json:"max_fin_to_write_delay_with_rst_s"`
					Hi *float64 `json:"min_fin_to_write_delay_blackholed_s"`
				} `json:"drop_window"`
			}
			_ = json.Unmarshal(tr.Parameters, &params)
			_ = json.Unmarshal(tr.Expectation, &exp)
			if tr.Scenario == "mixed" {
				return // components carry their own parameters; the scorer checks them
			}
			pairs := byKind[tr.Scenario]
			if tr.Scenario == "keepalive-idle-close" && params.IdleTimeoutS != nil {
				got := inferred(KindIdleTimeoutClose, pairs, func(in Inferred) *float64 { return in.IdleTimeoutS })
				if got == nil || abs(*got-*params.IdleTimeoutS) > 0.05**params.IdleTimeoutS {
					t.Errorf("idle_timeout_s = %v, want %v ±5 %%", deref(got), *params.IdleTimeoutS)
				}
			}
			if tr.Scenario == "fin-blackhole" {
				if params.ClientTimeoutS != nil {
					got := inferred(KindUpstreamTimeout, pairs, func(in Inferred) *float64 { return in.RequestTimeoutS })
					if got == nil || abs(*got-*params.ClientTimeoutS) > 0.05**params.ClientTimeoutS {
						t.Errorf("request_timeout_s = %v, want %v ±5 %%", deref(got), *params.ClientTimeoutS)
					}
				}
				if w := exp.DropWindow; w != nil && w.Lo != nil && w.Hi != nil {
					got := inferred(KindWriteAfterFINBlackholed, pairs, func(in Inferred) *float64 { return in.DropWindowS })
					if got == nil || *got < *w.Lo*0.95 || *got > *w.Hi*1.05 {
						t.Errorf("drop_window_s = %v, want %v..%v", deref(got), *w.Lo, *w.Hi)
					}
				}
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
