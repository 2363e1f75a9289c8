//go:build !hopwire_checks

package wire

// useChecks: production builds leave the accessors' check off (own.go).
const useChecks = false
