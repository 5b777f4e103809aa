# orbitfarm developer entry points. Every target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BPY_VERSION ?= 4.5.4
BPY_42 ?= 4.2.23
BPY_50 ?= 5.0.1
VENV := .venv
PY := $(VENV)/bin/python
DEV_PKGS := pytest hypothesis pyyaml requests blender-asset-tracer ruff kubernetes-validate \
	kubernetes
# Keep Blender's user files (config, extensions) out of the developer's home.
export BLENDER_USER_RESOURCES ?= $(CURDIR)/.blender-user

.PHONY: demo test test-main test-compat lint bench extension clean venv slurm-up slurm-down \
	test-ray test-kubernetes ray-up ray-down

venv: $(VENV)/.ready

$(VENV)/.ready: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "bpy wheels need Python 3.11; set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q bpy==$(BPY_VERSION) $(DEV_PKGS)
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $@

# One venv per extra Blender version, created on demand for the worker's compat tests.
.venv-%/.ready: pyproject.toml Makefile
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install -q --upgrade pip
	.venv-$*/bin/pip install -q bpy==$(if $(filter 4.2,$*),$(BPY_42),$(BPY_50)) pytest hypothesis pyyaml requests
	.venv-$*/bin/pip install -q --no-deps -e .
	@touch $@

demo: venv
	$(PY) bench/demo.py

test: lint test-main test-compat

test-main: venv
	$(PY) -m pytest -q

test-compat: .venv-4.2/.ready .venv-5.0/.ready
	.venv-4.2/bin/python -m pytest -q -m compat
	.venv-5.0/bin/python -m pytest -q -m compat

# mypy runs in its own venv against fake-bpy-module: the stub package must never shadow the
# real bpy where tests run.
.venv-lint/.ready: Makefile
	$(PYTHON) -m venv .venv-lint
	.venv-lint/bin/pip install -q ruff mypy fake-bpy-module-4.5 types-PyYAML types-requests pyyaml requests
	@touch $@

# mypy names modules by walking up folders with __init__.py, and the root is one: check the
# code through a link named `orbitfarm` so module names match the package, whatever the
# checkout folder is called.
MYPY_TARGETS := -p orbitfarm.submitter -p orbitfarm.worker -p orbitfarm.operators \
	-p orbitfarm.panels -m orbitfarm

lint: .venv-lint/.ready
	.venv-lint/bin/ruff check .
	d=$$(mktemp -d) && ln -s "$(CURDIR)" "$$d/orbitfarm" && cd "$$d" && \
	  "$(CURDIR)/.venv-lint/bin/mypy" --config-file "$(CURDIR)/pyproject.toml" $(MYPY_TARGETS); \
	  status=$$?; rm -rf "$$d"; exit $$status

bench: venv
	$(PY) bench/run.py

extension: venv
	$(PY) tools/build_extension.py

slurm-up:
	bash tests/slurm/cluster.sh up

slurm-down:
	bash tests/slurm/cluster.sh down

# Part of test-main too; these run one engine's tests alone. The Ray head (Ray from PyPI in
# its own cached venv) is started and stopped by the tests themselves.
test-ray: venv
	$(PY) -m pytest -q tests/ray

test-kubernetes: venv
	$(PY) -m pytest -q tests/kubernetes

ray-up:
	bash tests/ray/cluster.sh up

ray-down:
	bash tests/ray/cluster.sh down

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .blender-user
