//go:build hopwire_checks

package wire

// useChecks: the accessors panic on a released message (own.go).
const useChecks = true
