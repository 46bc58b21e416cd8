VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
LOCK := requirements/constraints.txt
EXTRAS := dev,umap,mlflow,serve,spark,sentence
# Every install reads the lock: the exact versions the suite last passed with.
LOCKED := --constraint $(LOCK)
# `mlflow server` for the tracking tests: full mlflow pins pyarrow<26, older than the lock's,
# so it lives in a venv of its own, from a lock of its own (858 MB; the extra stays skinny).
SERVER_VENV := .venv-mlflow-server
SERVER_LOCK := requirements/mlflow-server.txt

.PHONY: demo test test-latest upgrade install install-dev mlflow-server browser bench lint clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The bytecode a wheel's install writes: an editable install gets it only at first import,
# and never where PYTHONDONTWRITEBYTECODE is set (then each command compiles ~70 modules).
install: $(PY)
	$(PIP) install --quiet $(LOCKED) -e .
	$(PY) -m compileall -q personae

install-dev: $(PY) mlflow-server
	$(PIP) install --quiet $(LOCKED) -e ".[$(EXTRAS)]"
	$(PY) -m compileall -q personae

mlflow-server: $(SERVER_VENV)/bin/mlflow

# A failed install says so and leaves no half venv: the server test then skips, naming this.
$(SERVER_VENV)/bin/mlflow: $(SERVER_LOCK)
	rm -rf $(SERVER_VENV)
	(python3 -m venv $(SERVER_VENV) && $(SERVER_VENV)/bin/pip install --quiet -r $(SERVER_LOCK)) \
	  || { rm -rf $(SERVER_VENV); echo "warning: could not install mlflow server; its test will skip"; }

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

# The newest releases the registry serves, in a venv of their own; the lock is not touched.
# Run it before a release to see the next breaking change before a user does.
test-latest: browser
	rm -rf .venv-latest
	python3 -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --upgrade pip
	.venv-latest/bin/pip install --quiet --upgrade -e ".[$(EXTRAS)]"
	.venv-latest/bin/python -m pytest -n 2 -q

# test-latest, and when it passes, the lock becomes what it ran with; says what changed.
upgrade: test-latest
	.venv-latest/bin/python scripts/refresh_lock.py $(LOCK) .venv-latest/bin/python

bench: install
	$(PY) benchmarks/bench_segment.py

lint: install-dev
	$(VENV)/bin/ruff check personae tests benchmarks scripts

clean:
	rm -rf demo-output .pytest_cache build *.egg-info .venv-latest $(SERVER_VENV)
