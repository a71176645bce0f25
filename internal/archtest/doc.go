// Package archtest holds tests of the repository's shape, not of its
// behaviour: the package map of docs/design.md against `go list` (every
// package has a row, every row a package, every import the row allows, the
// layer rules), that each table of migrations/ has one owning package and
// no other package names it in SQL (tables_test.go), and that nothing in the
// repository cites a file outside it.
//
// It has no code of its own; this file exists so that the package is listed
// (and its rules with it) like any other. When a test here fails after you
// add, move or split a package, change its row in docs/design.md's "Package
// map" in the same commit.
package archtest
