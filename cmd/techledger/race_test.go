//go:build race

package main

// The test binary is built with the race detector: buildTechledger builds the binary the
// same way, so that it reuses the packages the test build compiled (and serve runs with the
// race detector under the black-box test's load).
func init() { raceBuild = true }
