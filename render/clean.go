package render

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text that comes from packets (HTTP request lines, Host headers, TLS SNI)
// is hostile: it may hold invalid UTF-8, terminal escapes, or bidi controls
// that make "moc.liame" read as "email.com". Every string the writers show
// goes through cleanLine or cleanText first; escaping for HTML, JSON or
// Markdown comes after, in the writer's own context.

// cleanLine returns s as one safe line: invalid UTF-8 becomes U+FFFD, and
// every control character (newlines included), bidi control and invisible
// format character is replaced by a visible escape such as `\n`, `\x1b` or
// `[U+202E]`. At most max runes of the result are kept (0: no limit); a cut
// ends in "…".
func cleanLine(s string, max int) string {
	return clean(s, max, false)
}

// cleanText is cleanLine that keeps newlines and tabs (for multi-line
// explanations written by detectors), with no length limit.
func cleanText(s string) string {
	return clean(s, 0, true)
}

func clean(s string, max int, multiline bool) string {
	if isPlain(s, max) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	for _, r := range s {
		if max > 0 && n >= max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		case isBidiOrInvisible(r):
			fmt.Fprintf(&b, "[U+%04X]", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPlain reports whether s is printable ASCII short enough to need no work:
// the common case, kept allocation-free.
func isPlain(s string, max int) bool {
	if max > 0 && len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidiOrInvisible reports the characters that reorder or hide text:
// the Unicode bidi embedding, override and isolate controls, the directional
// marks, zero-width characters, line and paragraph separators (which also
// end JavaScript strings in old engines) and the byte order mark.
func isBidiOrInvisible(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r >= 0x200b && r <= 0x200d, r == 0x2060, r == 0xfeff: // zero width
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation controls
		return true
	}
	return false
}

// truncateRunes keeps the first max runes of a valid UTF-8 string.
func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	i := 0
	for n := 0; n < max; n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
