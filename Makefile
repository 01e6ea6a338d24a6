# siprecd: make run (server on embedded defaults), make test (whole suite).
SWIFT ?= swift
ARGS ?=
FUZZ_SECONDS ?= 60

.PHONY: deps build release run test fuzz fuzz-build bench bench-parse bench-endpoint bench-metadata bench-sipp bench-siprec bench-media clean

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
# TEST_TIMEOUT bounds the run (it takes about 8 minutes): a test that hangs fails the suite
# with its output, instead of eating the CI's time.
TEST_TIMEOUT ?= 45m
test: deps
	$(SWIFT) build --product siprecd
	$(SWIFT) build --product siprec-loadgen
	$(SWIFT) build --product siprecctl
	SIPRECD_BINARY="$$($(SWIFT) build --show-bin-path)/siprecd" timeout -k 30 $(TEST_TIMEOUT) $(SWIFT) test --no-parallel

# libFuzzer on the SIP parser, multipart splitter, SDP, metadata and RTP parsers, in its own build folder.
fuzz-build: deps
	$(SWIFT) build --scratch-path .build-fuzz --product SIPFuzz --sanitize=fuzzer \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING

fuzz: fuzz-build
	mkdir -p fuzz-artifacts && cp -n sip-fixtures/fuzz/sip/* sip-fixtures/fuzz/metadata/* sip-fixtures/fuzz/rtp/* fuzz-artifacts/ 2>/dev/null || true
	SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/sip-fixtures/fuzz/lsan-suppressions.txt ./.build-fuzz/debug/SIPFuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
		-artifact_prefix=fuzz-artifacts/crash- fuzz-artifacts sip-fixtures/fuzz/sip sip-fixtures/fuzz/metadata sip-fixtures/fuzz/rtp

bench: bench-parse bench-endpoint bench-metadata bench-sipp bench-siprec bench-media

bench-parse: deps
	$(SWIFT) build -c release --product siprec-bench
	./.build/release/siprec-bench parse sip-fixtures/messages/valid/siprec-invite.sip

bench-endpoint: deps
	$(SWIFT) build -c release --product siprec-bench
	./.build/release/siprec-bench endpoint 300000 5000

bench-metadata: deps
	$(SWIFT) build -c release --product siprec-bench
	./.build/release/siprec-bench metadata sip-fixtures/fuzz/metadata/cube-invite.xml

bench-sipp: release
	./bench/sipp-callrate.sh

# SIPREC session setups per second and INVITE-to-200 latency (multipart INVITE with metadata).
bench-siprec: release
	SCENARIO=sip-fixtures/sipp/bench-siprec.xml ./bench/sipp-callrate.sh 20 500 1000 2000 3000 4000 6000

# Concurrent two-stream calls with verified recordings, against a C receiver's cost for the
# same packets: CALLS=1000 DURATION=300 (SRTP=AES_CM_128_HMAC_SHA1_80 for SRTP).
CALLS ?= 1000
DURATION ?= 300
bench-media: deps
	./bench/media-load.sh $(CALLS) $(DURATION) 50

clean:
	rm -rf .build .build-fuzz fuzz-artifacts
