# Two commands do all set-up on a fresh machine (Python 3.11+ and the package
# registries): `make serve` and `make test`. Both create .venv, install the pinned
# dependencies and provision the pose model first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup model browser serve lint test bench soak lock clean

setup: $(STAMP)

$(STAMP): requirements.lock requirements-test.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# --no-deps: the lock files are complete; this keeps mediapipe's GUI OpenCV out.
	$(PY) -m pip install --quiet --no-deps -r requirements.lock -r requirements-test.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

model: setup
	$(PY) -m posecore model

# Ray's own processes (its HTTP proxy) take their environment from the command that
# starts Ray, never from serve_config.yaml: trim the proxy's heap after large uploads,
# two malloc arenas (serve_app/proxy_memory.py NODE_ENV; the Dockerfile and cluster.yaml set the same).
serve: export MALLOC_ARENA_MAX := 2
serve: export RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH := serve_app.proxy_memory.proxy_middlewares
# Foreground, on 127.0.0.1:8000; Ctrl-C stops it (and the local Ray it started).
serve: model
	$(VENV)/bin/serve run serve_config.yaml

# The page's browser tests drive Debian's Chromium (never a browser download). Installed
# here when missing and possible (root with apt-get); otherwise those tests skip, saying why.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "installing Debian's chromium for the browser tests" \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium not installed: the browser tests will skip"

# Style and types (configured in pyproject.toml): ruff's linter and formatter, mypy.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: model browser lint
	$(PY) -m pytest

# About 50 minutes on 2 cores; results in benchmarks/results/ (JSON, Markdown, PNG).
bench: model
	$(PY) benchmarks/single_process.py
	$(PY) benchmarks/speedup.py
	$(PY) benchmarks/load.py
	$(PY) benchmarks/autoscale_trace.py
	$(PY) benchmarks/multinode.py
	$(PY) benchmarks/memory.py
	$(PY) benchmarks/choreography.py
	$(PY) benchmarks/compare.py
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/learned_vs_rules.py
	$(PY) benchmarks/label_agreement.py
	$(PY) benchmarks/segment_signals.py
	$(PY) benchmarks/groups.py
	$(PY) benchmarks/people_cost.py
	$(PY) benchmarks/solo_vs_base.py

# Abuse, about 15 minutes: 10 minutes of mixed good, bad and abusive uploads at 6 clients
# (correctness, errors, memory), then a burst of large uploads (memory) and dripping uploads (slots).
soak: model
	$(PY) benchmarks/soak.py
	$(PY) benchmarks/upload_burst.py
	$(PY) benchmarks/drip_slots.py

# Regenerate requirements.lock from a venv where pyproject's deps were installed
# (the test-only pins of requirements-test.lock are left out).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -i -x -F -f requirements-test.lock | grep -v -i -E '^(opencv-contrib-python|py-spy)==' > requirements.lock.new
	@echo "review requirements.lock.new, keep the header note, then move it over requirements.lock"

clean:
	rm -rf $(VENV) .pytest_cache
