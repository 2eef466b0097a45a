// Package e2e holds authix's browser end-to-end test.
package e2e
