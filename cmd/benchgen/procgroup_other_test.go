//go:build !unix

package main

import "os/exec"

// killGroupOnCancel leaves cmd as it is: without process groups the
// context's cancel kills the spawner alone (runAdversarial skips here).
func killGroupOnCancel(*exec.Cmd) {}
