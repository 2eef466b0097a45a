//go:build !race

package authix

const raceEnabled = false
