# siprecd: make run (server on embedded defaults), make test (whole suite).
SWIFT ?= swift
ARGS ?=
FUZZ_SECONDS ?= 60

.PHONY: deps build release run test fuzz fuzz-build bench bench-parse bench-sipp clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product siprecd

# Runs the server on its embedded defaults (SIP udp+tcp 0.0.0.0:5060, data in ./var).
run: release
	./.build/release/siprecd $(ARGS)

# The whole test suite: unit tests, then integration tests against the built binary with sipp.
test: deps
	$(SWIFT) build --product siprecd
	SIPRECD_BINARY="$$($(SWIFT) build --show-bin-path)/siprecd" $(SWIFT) test --no-parallel

# libFuzzer on the SIP parser and multipart splitter, in its own build folder.
fuzz-build: deps
	$(SWIFT) build --scratch-path .build-fuzz --product SIPFuzz --sanitize=fuzzer \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING

fuzz: fuzz-build
	mkdir -p fuzz-artifacts && cp -n sip-fixtures/fuzz/sip/* fuzz-artifacts/ 2>/dev/null || true
	SWIFT_BACKTRACE=enable=no ./.build-fuzz/debug/SIPFuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
		-artifact_prefix=fuzz-artifacts/crash- fuzz-artifacts sip-fixtures/fuzz/sip

bench: bench-parse bench-sipp

bench-parse: deps
	$(SWIFT) build -c release --product siprec-bench
	./.build/release/siprec-bench parse sip-fixtures/messages/valid/siprec-invite.sip

bench-sipp: release
	./bench/sipp-callrate.sh

clean:
	rm -rf .build .build-fuzz fuzz-artifacts
