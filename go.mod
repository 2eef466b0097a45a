module github.com/authix-go/authix

go 1.26

require (
	github.com/fernet/fernet-go v0.0.0-20240119011108-303da6aec611
	github.com/go-json-experiment/json v1.27.2
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
