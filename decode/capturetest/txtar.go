package capturetest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Archive is a txtar archive: a comment, then files introduced by lines of
// the form "-- NAME --". It is the format of golang.org/x/tools/txtar.
type Archive struct {
	Comment string
	Files   []ArchiveFile
}

// ArchiveFile is one file of an Archive.
type ArchiveFile struct {
	Name string
	Data string
}

// ParseTxtar parses a txtar archive. It never fails: text before the first
// marker line is the comment.
func ParseTxtar(data []byte) *Archive {
	a := &Archive{}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var cur *ArchiveFile
	var body strings.Builder
	flush := func() {
		if cur == nil {
			a.Comment = body.String()
		} else {
			cur.Data = body.String()
			a.Files = append(a.Files, *cur)
		}
		body.Reset()
	}
	for len(s) > 0 {
		line, rest, found := strings.Cut(s, "\n")
		s = rest
		if name, ok := markerName(line); ok {
			flush()
			cur = &ArchiveFile{Name: name}
			continue
		}
		_ = found // txtar: a file's last line always ends in a newline
		body.WriteString(line)
		body.WriteByte('\n')
	}
	flush()
	return a
}

func markerName(line string) (string, bool) {
	if !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") || len(line) < 7 {
		return "", false
	}
	name := strings.TrimSpace(line[3 : len(line)-3])
	return name, name != ""
}

// File returns the data of the file called name, and whether it exists.
func (a *Archive) File(name string) (string, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return "", false
}

// Set replaces the data of file name, or appends the file.
func (a *Archive) Set(name, data string) {
	if data != "" && !strings.HasSuffix(data, "\n") {
		data += "\n"
	}
	for i := range a.Files {
		if a.Files[i].Name == name {
			a.Files[i].Data = data
			return
		}
	}
	a.Files = append(a.Files, ArchiveFile{Name: name, Data: data})
}

// Format returns the archive's text.
func (a *Archive) Format() []byte {
	var b bytes.Buffer
	b.WriteString(a.Comment)
	for _, f := range a.Files {
		fmt.Fprintf(&b, "-- %s --\n", f.Name)
		b.WriteString(f.Data)
	}
	return b.Bytes()
}

// LoadTxtar reads a scenario file and returns its "packets" and "want"
// sections. A missing "packets" section is an error; a missing "want" is
// returned as "".
func LoadTxtar(path string) (packets, want string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	a := ParseTxtar(data)
	packets, ok := a.File("packets")
	if !ok {
		return "", "", fmt.Errorf("%s: no \"-- packets --\" section", path)
	}
	want, _ = a.File("want")
	return packets, want, nil
}

// UpdateWant rewrites the "want" section of the scenario file at path (for
// tests' -update flag), keeping everything else.
func UpdateWant(path, want string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	a := ParseTxtar(data)
	a.Set("want", want)
	return os.WriteFile(path, a.Format(), 0o644)
}
