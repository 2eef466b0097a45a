module github.com/authix-go/authix/storetest/internal/memstore

go 1.26

require (
	github.com/authix-go/authix v0.0.0-00010101000000-000000000000
	github.com/authix-go/authix/storetest v0.0.0-00010101000000-000000000000
)

require (
	github.com/fernet/fernet-go v0.0.0-20240119011108-303da6aec611 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
)

replace (
	github.com/authix-go/authix => ../../..
	github.com/authix-go/authix/storetest => ../..
)
