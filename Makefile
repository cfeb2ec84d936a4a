# The README's two commands: `make demo` (the main job) and `make test`.
# Both create .venv in the repository root when needed and reinstall only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-offline test lint typecheck unit jstest validate bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job: the service on its defaults with a live clinic session on three simulated sensors (Ctrl-C stops).
demo: $(STAMP)
	$(BIN)/python -m server.demo

# The offline demo: a simulated walk written as CSV files and analysed by `fusiongait analyze`.
demo-offline: $(STAMP)
	$(BIN)/python -m server.demo --offline --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy gait hardware firmware_bridge server

# The HTML report test renders the page in headless Chromium (Debian's package). Quick when it is installed; else
# it installs it with apt-get (needs root, as on the project machines); without it that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package) for the HTML report test"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: could not install chromium; the browser test will be skipped"; }

unit: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The phone relay's logic (server/static/js/relay/) with Node's built-in test runner: no npm packages. Node comes with
# the machine image; where it is missing, Debian's package is installed (needs root, as on the project machines).
jstest:
	@command -v node >/dev/null 2>&1 || { \
		echo "installing nodejs (Debian package) for the JavaScript tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }
	node --test tests/js/

test: lint typecheck jstest unit

# Accuracy figures on ../shared/datasets and simulated walkers (docs/validation.md), and the speed and load figures
# (docs/performance.md); each writes its JSON next to the docs. Minutes each; run on a quiet machine.
validate: $(STAMP)
	$(BIN)/python scripts/validate_events.py
	$(BIN)/python scripts/validate_kinematics.py
	$(BIN)/python scripts/validate_flags.py
	$(BIN)/python scripts/validate_bridge.py
	$(BIN)/python scripts/validate_daily.py
	$(BIN)/python scripts/validate_home.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_kinematics.py
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_bridge.py
	$(BIN)/python benchmarks/bench_daily.py
	$(BIN)/python benchmarks/bench_interop.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_live.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
