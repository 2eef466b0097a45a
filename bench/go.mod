module github.com/authix-go/authix/bench

go 1.26

require (
	github.com/authix-go/authix v0.0.0-00010101000000-000000000000
	github.com/fernet/fernet-go v0.0.0-20240119011108-303da6aec611
	github.com/go-chi/jwtauth/v5 v5.3.3
	github.com/go-json-experiment/json v1.27.2
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/gorilla/securecookie v1.1.2
	github.com/jackc/pgx/v5 v5.13.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

require (
	github.com/authix-go/authix/pgstore v0.0.0-00010101000000-000000000000
	github.com/authix-go/authix/redisstore v0.0.0-00010101000000-000000000000
	github.com/decred/dcrd/dcrec/secp256k1/v4 v4.3.0 // indirect
	github.com/goccy/go-json v0.10.3 // indirect
	github.com/lestrrat-go/blackmagic v1.0.2 // indirect
	github.com/lestrrat-go/httpcc v1.0.1 // indirect
	github.com/lestrrat-go/httprc v1.0.6 // indirect
	github.com/lestrrat-go/iter v1.0.2 // indirect
	github.com/lestrrat-go/jwx/v2 v2.1.3 // indirect
	github.com/lestrrat-go/option v1.0.1 // indirect
	github.com/segmentio/asm v1.2.0 // indirect
	golang.org/x/crypto v0.31.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

replace github.com/authix-go/authix => ../

replace github.com/authix-go/authix/redisstore => ../redisstore

replace github.com/authix-go/authix/pgstore => ../pgstore

replace github.com/authix-go/authix/storetest => ../storetest
