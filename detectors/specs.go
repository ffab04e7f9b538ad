package detectors

// Specs returns every detector, in report order. It returns a new slice on
// each call: there is no mutable registry.
func Specs() []*Spec {
	return append(teardownSpecs(), transportSpecs()...)
}

// Select returns the specs whose names are in names (all when names is empty).
func Select(names []string) ([]*Spec, error) {
	all := Specs()
	if len(names) == 0 {
		return all, nil
	}
	var out []*Spec
	for _, n := range names {
		k, ok := ParseKind(n)
		if !ok {
			return nil, &UnknownDetectorError{Name: n}
		}
		for _, s := range all {
			if s.Kind == k {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// UnknownDetectorError reports a detector name that does not exist.
type UnknownDetectorError struct{ Name string }

func (e *UnknownDetectorError) Error() string { return "unknown detector " + e.Name }
