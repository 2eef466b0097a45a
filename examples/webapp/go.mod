module github.com/authix-go/authix/examples/webapp

go 1.26

require (
	github.com/authix-go/authix v0.0.0-00010101000000-000000000000
	github.com/authix-go/authix/pgstore v0.0.0-00010101000000-000000000000
	github.com/authix-go/authix/redisstore v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.13.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/fernet/fernet-go v0.0.0-20240119011108-303da6aec611 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace (
	github.com/authix-go/authix => ../..
	github.com/authix-go/authix/pgstore => ../../pgstore
	github.com/authix-go/authix/redisstore => ../../redisstore
	github.com/authix-go/authix/storetest => ../../storetest
)
