package main

import (
	"testing"

	"github.com/authix-go/authix/examples/routers/internal/flowtest"
)

func TestFlow(t *testing.T) {
	t.Parallel()
	vault, err := newVault()
	if err != nil {
		t.Fatal(err)
	}
	flowtest.Run(t, routes(vault))
}
