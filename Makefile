# Sigil: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: run test build bench clean

# Run Sigil in development mode on 127.0.0.1 with ./sigil-data.
run:
	go run ./cmd/sigil serve --dev

# Run the whole test suite (installs missing Debian packages first).
test:
	scripts/test.sh

# Build the binary into bin/sigil.
build:
	CGO_ENABLED=0 go build -o bin/sigil ./cmd/sigil

# Issuance benchmark: certificates per second and p50/p99 latency.
bench:
	go test ./test/integration -run '^$$' -bench Issue -benchtime 4000x

clean:
	rm -rf bin sigil-data
