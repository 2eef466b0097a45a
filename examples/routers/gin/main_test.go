package main

import (
	"testing"

	"github.com/authix-go/authix/examples/routers/internal/flowtest"
	"github.com/gin-gonic/gin"
)

func TestFlow(t *testing.T) {
	gin.SetMode(gin.TestMode) // no debug banner in test output
	vault, err := newVault()
	if err != nil {
		t.Fatal(err)
	}
	flowtest.Run(t, routes(vault))
}
