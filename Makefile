# The two commands a newcomer runs: `make demo` and `make test`. Each installs what it needs, idempotently,
# into .cache/ (ignored by git).
CARGO ?= cargo

.PHONY: demo test build tools bench-protocol bench-policy bench-scale fmt clean-cache

build:
	$(CARGO) build --workspace --bins

# Each installer's messages stay on stderr; the first that fails stops the run.
tools:
	@for script in scripts/install-*.sh; do \
	  bash "$$script" >/dev/null || { echo "make tools: $$script failed; see its messages above" >&2; exit 1; }; \
	done

# KEEP=1 keeps the lab, the applied blueprint and the scenario page running after the demo, until Ctrl-C.
KEEP ?= 0
demo: build
	@KEEP=$(KEEP) bash scripts/demo.sh

# Every test in the workspace, against one build of each binary, ending with one summary line of counts.
test: build tools
	@bash scripts/test.sh

bench-protocol:
	$(CARGO) build --release -p terraform-provider-aviatrix
	@bash scripts/install-null-provider.sh >/dev/null
	@python3 scripts/bench_protocol.py

# aviatrix_mcp_egress_server at 10, 100 and 500 against the lab, beside kubectl apply + wait of the same objects.
bench-scale: tools
	$(CARGO) build --release -p terraform-provider-aviatrix --bin terraform-provider-aviatrix
	$(CARGO) build -p mcp-egress-lab --bin mcp-egress-lab
	@python3 scripts/bench_scale.py

bench-policy:
	$(CARGO) bench -p mcp-egress-policy --bench policy

fmt:
	$(CARGO) fmt --all
	@bash scripts/fmt-terraform.sh
