// Package pki is Sigil's pure X.509 toolkit: key and signature algorithms,
// distinguished names and general names, certificate templates (profiles),
// CSR checks, validity arithmetic and certificate construction. It performs no
// I/O and knows nothing of storage, HTTP or AWS wire formats; the same
// functions serve every front end.
package pki
