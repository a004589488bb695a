module github.com/wdm-knative/webshop/cluster

go 1.26.8

require (
	github.com/google/go-containerregistry v0.22.1
	github.com/wdm-knative/webshop v0.0.0
	golang.org/x/sys v0.50.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)

// The shop itself, for the cluster tests' client of its public API
// (internal/shopclient, e2e/consistency): the same checks as the local e2e.
replace github.com/wdm-knative/webshop => ../
