VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test install install-dev bench lint clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet -e .

install-dev: $(PY)
	$(PIP) install --quiet -e ".[dev,umap]"

demo: install
	$(VENV)/bin/personae demo --out demo-output

test: install-dev
	$(PY) -m pytest -n 2 -q

bench: install
	$(PY) benchmarks/run.py

lint: install-dev
	$(VENV)/bin/ruff check personae tests benchmarks

clean:
	rm -rf demo-output .pytest_cache build *.egg-info
