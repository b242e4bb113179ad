// Package refdata is the reference data as code (the closed lists of
// contract types, fields, party kinds, IP types, rights and GB/T 2260 region codes, each
// citing its source), shared by package commands, which validates against it, and package
// reports, which labels and orders its rows by it. It imports only the standard library.
package refdata
