# The two commands a newcomer runs: `make demo` and `make test`. Each installs what it needs, idempotently,
# into .cache/ (ignored by git).
CARGO ?= cargo

.PHONY: demo test build tools bench-protocol bench-policy fmt clean-cache

build:
	$(CARGO) build --workspace --bins

tools:
	@for script in scripts/install-*.sh; do bash "$$script" >/dev/null; done

demo: build
	@bash scripts/demo.sh

# Every test in the workspace, against one build of each binary, ending with one summary line of counts.
test: build tools
	@bash scripts/test.sh

bench-protocol:
	$(CARGO) build --release -p terraform-provider-aviatrix
	@bash scripts/install-null-provider.sh >/dev/null
	@python3 scripts/bench_protocol.py

bench-policy:
	$(CARGO) bench -p terraform-provider-aviatrix --bench policy

fmt:
	$(CARGO) fmt --all
	terraform fmt -recursive examples modules blueprints 2>/dev/null || true
