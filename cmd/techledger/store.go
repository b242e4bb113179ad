package main

import (
	"fmt"
	"io"

	"techledger/ledger/filestore"
)

// openStore opens the embedded store in dir.
func openStore(dir string, stderr io.Writer) (*filestore.Store, int) {
	s, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return nil, exitFailure
	}
	return s, 0
}
