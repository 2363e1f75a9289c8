//go:build !race

package portal_test

const raceOn = false
