// Package batch is what `pcapsleuth analyze` needs beyond one capture:
// expanding files, folders and globs into inputs, ordering rotated files by
// their first packet for --merge, naming one report per capture, and the
// batch index (index.json, index.html, index.md, the text table and JUnit
// XML) that summarizes all of them.
package batch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// Input is one capture file to analyze.
type Input struct {
	// Path is the file ("-" = standard input).
	Path string
	// Size is the file's size in bytes (0 = unknown), for the progress bar.
	Size int64
}

// Problem is an argument that yielded no readable capture: a missing file, a
// folder without captures, a glob that matches nothing. It is reported like
// an unreadable capture (exit status 2) while the other inputs are analyzed.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// Unwrap returns the reason, without the path.
func (p Problem) Unwrap() error { return p.Err }

// Expansion is what the command-line arguments name.
type Expansion struct {
	Inputs   []Input
	Problems []Problem
	// Batch is true when an argument was a folder or a glob: the user asked
	// for "every capture in there", even if it holds only one.
	Batch bool
}

// captureName matches the file names taken from folders without looking
// inside: pcap, pcapng, cap and ntar files, tcpdump -C's numbered
// files (dump.pcap1), each optionally .gz or .zst compressed.
var captureName = regexp.MustCompile(`(?i)\.(pcap|pcapng|cap|ntar)[0-9]*(\.(gz|gzip|zst|zstd))?$`)

// Expand turns arguments into inputs. An argument is "-" (standard input,
// alone), a file (taken whatever its name), a folder (every capture in it
// and its subfolders, hidden ones skipped: files named like captures, and
// other files whose first bytes are a capture's), or a glob, for shells
// that leave patterns unexpanded (quoted in CI scripts). Inputs keep the
// argument order; a folder's or glob's files are sorted by path; a file
// named twice is analyzed once.
func Expand(args []string) (Expansion, error) {
	var ex Expansion
	seen := map[string]bool{}
	add := func(path string, size int64) {
		key := filepath.Clean(path)
		if seen[key] {
			return
		}
		seen[key] = true
		ex.Inputs = append(ex.Inputs, Input{Path: path, Size: size})
	}
	for _, arg := range args {
		if arg == "-" {
			if len(args) > 1 {
				return ex, errors.New(`standard input ("-") cannot be combined with other captures`)
			}
			add("-", 0)
			continue
		}
		fi, err := os.Stat(arg)
		switch {
		case err == nil && fi.IsDir():
			ex.Batch = true
			files, err := walkDir(arg)
			if err != nil {
				ex.Problems = append(ex.Problems, Problem{arg, err})
				continue
			}
			if len(files) == 0 {
				ex.Problems = append(ex.Problems, Problem{arg, errors.New("no captures in this folder (looked for *.pcap, *.pcapng, *.cap, their .gz/.zst forms and tcpdump -C's numbered files, and for files that start like a capture); check the path, or name the files")})
				continue
			}
			for _, f := range files {
				add(f.Path, f.Size)
			}
		case err == nil:
			add(arg, fi.Size())
		case errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(arg, "*?["):
			ex.Batch = true
			matches, gerr := filepath.Glob(arg)
			if gerr != nil {
				ex.Problems = append(ex.Problems, Problem{arg, fmt.Errorf("bad pattern: %v", gerr)})
				continue
			}
			n := 0
			hidden := strings.HasPrefix(filepath.Base(arg), ".")
			for _, m := range matches {
				if !hidden && strings.HasPrefix(filepath.Base(m), ".") {
					continue // as shells do: * does not match a leading dot
				}
				mi, err := os.Stat(m)
				if err != nil {
					continue
				}
				if mi.IsDir() {
					files, err := walkDir(m)
					if err != nil {
						ex.Problems = append(ex.Problems, Problem{m, err})
					}
					for _, f := range files {
						add(f.Path, f.Size)
						n++
					}
					continue
				}
				add(m, mi.Size())
				n++
			}
			if n == 0 {
				ex.Problems = append(ex.Problems, Problem{arg, errors.New("no file matches this pattern; check the path and the quoting")})
			}
		case errors.Is(err, fs.ErrNotExist):
			ex.Problems = append(ex.Problems, Problem{arg, fmt.Errorf("no such file or folder%s", nearby(arg))})
		default:
			ex.Problems = append(ex.Problems, Problem{arg, err})
		}
	}
	return ex, nil
}

// nearby suggests what to try for a missing path: the closest capture in
// its folder, or says that the folder itself is missing.
func nearby(path string) string {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Sprintf(" (the folder %s does not exist either)", dir)
	}
	base := strings.ToLower(filepath.Base(path))
	for _, e := range entries {
		n := e.Name()
		if captureName.MatchString(n) && (strings.HasPrefix(strings.ToLower(n), strings.TrimSuffix(base, filepath.Ext(base))) ||
			strings.HasPrefix(base, strings.TrimSuffix(strings.ToLower(n), filepath.Ext(n)))) {
			return fmt.Sprintf(" (did you mean %s?)", filepath.Join(dir, n))
		}
	}
	return "; check the path"
}

// walkDir lists the captures under dir, sorted by path.
func walkDir(dir string) ([]Input, error) {
	var out []Input
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // an unreadable subfolder: skip it
		}
		name := d.Name()
		if path != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(path) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if captureName.MatchString(name) || looksLikeCapture(path) {
			out = append(out, Input{Path: path, Size: fi.Size()})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// looksLikeCapture reports whether the file opens as a capture (its first
// bytes, decompressed if need be, are a pcap or pcapng header).
func looksLikeCapture(path string) bool {
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		return false
	}
	r.Close()
	return true
}

// Names returns a report base name per input, unique in the batch and safe
// as a file name: the file name without its capture and compression
// extensions ("api-1.pcap.gz" → "api-1"); when two files share that, their
// file names, then their paths with slashes turned into "_"; "-2", "-3"
// after that. "index" and
// "junit" are reserved for the batch's own files.
func Names(paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = stem(filepath.Base(p))
	}
	// Two files with one stem: keep their extensions (dump.pcap, dump.pcapng),
	// then their folders (a_dump, b_dump).
	for _, alt := range []func(string) string{
		func(p string) string { return sanitize(filepath.Base(p)) },
		func(p string) string { return sanitize(filepath.ToSlash(filepath.Clean(p))) },
	} {
		count := map[string]int{}
		for _, n := range names {
			count[strings.ToLower(n)]++
		}
		for i, p := range paths {
			if count[strings.ToLower(names[i])] > 1 {
				names[i] = alt(p)
			}
		}
	}
	used := map[string]bool{}
	for i := range names {
		n := names[i]
		if n == "" || n == "-" {
			n = "stdin"
		}
		if n == "index" || n == "junit" {
			n += "-capture"
		}
		base := n
		for k := 2; used[strings.ToLower(n)]; k++ {
			n = fmt.Sprintf("%s-%d", base, k)
		}
		used[strings.ToLower(n)] = true
		names[i] = n
	}
	return names
}

var stemExt = regexp.MustCompile(`(?i)(\.(pcap|pcapng|cap|ntar))?(\.(gz|gzip|zst|zstd))?$`)

// stem strips the capture and compression extensions.
func stem(base string) string {
	return sanitize(stemExt.ReplaceAllString(base, ""))
}

// sanitize keeps letters, digits, '.', '-' and '_' and turns the rest into '_'.
func sanitize(s string) string {
	s = strings.Trim(s, "/.")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// FirstPacketOrder sorts the inputs of one timeline (--merge) by the time of
// their first packet, so rotated files (tcpdump -C, -G) join in capture
// order whatever their names. Files without packets go last. A file that
// cannot be opened is returned as a Problem and left out of the timeline.
func FirstPacketOrder(inputs []Input, opts decode.ReaderOptions) ([]Input, []Problem) {
	type keyed struct {
		in    Input
		ts    int64
		empty bool
	}
	var ks []keyed
	var probs []Problem
	for _, in := range inputs {
		r, err := decode.Open(in.Path, opts)
		if err != nil {
			probs = append(probs, Problem{in.Path, err})
			continue
		}
		var f decode.Frame
		err = r.Next(&f)
		r.Close()
		ks = append(ks, keyed{in: in, ts: f.TS, empty: err != nil})
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.empty != b.empty {
			return !a.empty
		}
		return a.ts < b.ts
	})
	out := make([]Input, len(ks))
	for i, k := range ks {
		out[i] = k.in
	}
	return out, probs
}
