// Package e2e holds authix's browser end-to-end tests: examples/basic and
// examples/webapp driven in headless Chromium, and a sliding session
// renewing in it.
package e2e
