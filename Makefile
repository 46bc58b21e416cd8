VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test install install-dev browser bench lint clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet -e .

install-dev: $(PY)
	$(PIP) install --quiet -e ".[dev,umap]"

demo: install
	$(VENV)/bin/personae demo --out demo-output

# The report is tested in a real browser: Debian's Chromium, found on PATH by the tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will fail"; }

test: install-dev browser
	$(PY) -m pytest -n 2 -q

bench: install
	$(PY) benchmarks/bench_segment.py

lint: install-dev
	$(VENV)/bin/ruff check personae tests benchmarks

clean:
	rm -rf demo-output .pytest_cache build *.egg-info
