package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes a file atomically: to a temporary file in the same
// folder, renamed into place, so a failed run never leaves half a report.
func WriteFile(path string, write func(io.Writer) error) error {
	tmp, err := createBeside(path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CheckWritable reports whether WriteFile could write path, by doing what
// it does first: creating (and here removing) a temporary file in path's
// folder. Commands call it before they analyze anything, so that a mistyped
// or read-only destination fails at once instead of after minutes of
// analysis of a large capture, whose result it would then lose.
func CheckWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("write %s: it is a folder", path)
	}
	tmp, err := createBeside(path)
	if err != nil {
		return err
	}
	name := tmp.Name()
	cerr := tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if cerr != nil {
		return fmt.Errorf("write %s: %w", path, cerr)
	}
	return nil
}

// NotAnInput returns an error when dest is one of the inputs (the same
// file, whatever the path says: a link, another spelling): writing the
// report there would replace the capture it was made from.
func NotAnInput(dest string, inputs []string) error {
	if dest == "" || dest == "-" {
		return nil
	}
	di, err := os.Stat(dest)
	if err != nil {
		return nil // not there yet: it cannot be an input
	}
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		if ii, err := os.Stat(in); err == nil && os.SameFile(di, ii) {
			return fmt.Errorf("write %s: it is the capture %s; pcapsleuth never writes over its input", dest, in)
		}
	}
	return nil
}

// createBeside creates the temporary file WriteFile renames to path. Its
// errors name path's folder and what is wrong with it, not the temporary
// file's name.
func createBeside(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".pcapsleuth-*")
	switch {
	case err == nil:
		return tmp, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("write %s: there is no folder %s", path, dir)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("write %s: no permission to create files in %s", path, dir)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the temporary file's name would only confuse
	}
	return nil, fmt.Errorf("write %s: cannot create a file in %s: %w", path, dir, err)
}
