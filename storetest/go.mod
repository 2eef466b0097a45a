module github.com/authix-go/authix/storetest

go 1.25.0
