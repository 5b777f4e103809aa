# orbitfarm developer entry points. Every target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# Blender 5.1+ embeds Python 3.13, so its bpy wheels need it. Found, in order: $PYTHON313, pyenv's
# 3.13 (its `python3.13` shim fails unless PYENV_VERSION is set, so ask `pyenv prefix`), any
# ~/.pyenv/versions/3.13*, then a python3.13 on PATH; each candidate must really run as 3.13.
# None found: `make test` stops with how to get one (tools/find_python313.sh says it).
PYTHON313 ?= $(shell bash tools/find_python313.sh 2>/dev/null)
BPY_VERSION ?= 4.5.4
BPY_42 ?= 4.2.23
BPY_50 ?= 5.0.1
BPY_53 ?= 5.3.0
# Heavy set-ups (the real Blender root, the fresh Debian root, pip/apt downloads) live here.
export ORBITFARM_CACHE ?= $(HOME)/.cache/orbitfarm
# Screenshots and logs the window and fresh-machine layers keep for people to look at.
ARTIFACTS := $(CURDIR)/test-artifacts
VENV := .venv
PY := $(VENV)/bin/python
DEV_PKGS := pytest hypothesis pyyaml requests blender-asset-tracer zstandard ruff \
	opencv-python-headless pycolmap kubernetes-validate kubernetes pillow
# The dataset-format tests read nerfstudio's own camera-model table and depth unit from its
# source; its dataparser needs torch (CUDA wheels on PyPI), so it is installed without deps.
NERFSTUDIO := nerfstudio==1.1.5
# Keep Blender's user files (config, extensions) out of the developer's home.
export BLENDER_USER_RESOURCES ?= $(CURDIR)/.blender-user

.PHONY: demo test test-main test-compat test-realblender test-window test-fresh test-formats \
	test-sge test-htcondor test-ray test-kubernetes test-cloud test-web lint bench extension clean \
	venv system-deps \
	real-blender slurm-up slurm-down sge-up sge-down htcondor-up htcondor-down ray-up ray-down \
	test-kubernetes-cluster k8s-up k8s-down

# The shared libraries `import bpy` loads (X11, GL, EGL, OpenMP): installed with apt-get when run
# as root, else the one `apt-get install` line is printed and make stops.
system-deps:
	@bash tools/system_deps.sh

venv: system-deps $(VENV)/.ready

$(VENV)/.ready: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "bpy wheels need Python 3.11; set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q bpy==$(BPY_VERSION) $(DEV_PKGS)
	$(VENV)/bin/pip install -q --no-deps $(NERFSTUDIO)
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $@

# One venv per extra Blender version, created on demand for the worker's compat tests (and the
# extension install test, also marked compat). 5.3 is Python 3.13 like Blender 5.1+.
venv_python = $(if $(filter 5.3,$(1)),$(PYTHON313),$(PYTHON))
venv_bpy = $(if $(filter 4.2,$(1)),$(BPY_42),$(if $(filter 5.3,$(1)),$(BPY_53),$(BPY_50)))
.venv-%/.ready: pyproject.toml Makefile
	@[ -n "$(call venv_python,$*)" ] || { bash tools/find_python313.sh; exit 1; }
	$(call venv_python,$*) -m venv .venv-$*
	.venv-$*/bin/pip install -q --upgrade pip
	.venv-$*/bin/pip install -q bpy==$(call venv_bpy,$*) pytest hypothesis pyyaml requests \
	  opencv-python-headless pillow
	.venv-$*/bin/pip install -q --no-deps -e .
	@touch $@

demo: venv
	$(PY) bench/demo.py

# Every layer, cheapest first; see the README's "Development" for what each costs and catches.
test: lint test-main test-compat test-sge test-htcondor test-kubernetes-cluster test-cloud \
	test-realblender test-window test-web test-fresh

# The Grid Engine and HTCondor layers bring their own throwaway daemons (tests/sge, tests/htcondor).
test-main: venv
	$(PY) -m pytest -q -m "not realblender and not window and not sge and not htcondor \
	  and not kubernetes_cluster and not cloud and not web"

test-sge: venv
	$(PY) -m pytest -q -m sge tests/sge

# The pool's root (Debian trixie, minicondor, blender) is built once under the cache directory.
test-htcondor: venv $(VENV)/.htcondor
	$(PY) -m pytest -q -m htcondor tests/htcondor

$(VENV)/.htcondor: $(VENV)/.ready
	$(VENV)/bin/pip install -q 'htcondor>=24.0,<25'
	@touch $@

test-compat: system-deps .venv-4.2/.ready .venv-5.0/.ready .venv-5.3/.ready
	.venv-4.2/bin/python -m pytest -q -m compat
	.venv-5.0/bin/python -m pytest -q -m compat
	.venv-5.3/bin/python -m pytest -q -m compat

# Debian trixie's real `blender` 4.3.2 (Python 3.13) in a cached debootstrap root.
real-blender:
	@bash tools/real_blender.sh >/dev/null

test-realblender: venv real-blender
	ORBITFARM_TEST_BLENDER=$$(bash tools/real_blender.sh --path) $(PY) -m pytest -q -m realblender

# The panel in a real window: the real Blender under Xvfb; screenshots go to $(ARTIFACTS)/window.
test-window: venv real-blender
	@bash tools/system_deps.sh --window
	ORBITFARM_TEST_BLENDER=$$(bash tools/real_blender.sh --path) \
	ORBITFARM_ARTIFACTS=$(ARTIFACTS) $(PY) -m pytest -q -m window; status=$$?; \
	echo "test-window: screenshots of each step in $(ARTIFACTS)/window/"; exit $$status

# The job's web page in headless Chromium: Debian's chromium (apt), Playwright from PyPI pointed at
# it (its own browser downloads are unreachable); screenshots go to $(ARTIFACTS)/web.
test-web: venv $(VENV)/.web
	@bash tools/system_deps.sh --web
	ORBITFARM_ARTIFACTS=$(ARTIFACTS) $(PY) -m pytest -q -m web tests/web; status=$$?; \
	echo "test-web: screenshots in $(ARTIFACTS)/web/"; exit $$status

$(VENV)/.web: $(VENV)/.ready
	$(VENV)/bin/pip install -q playwright
	@touch $@

# `make demo` on a fresh minimal Debian bookworm (debootstrap, cached), from a copy of this tree.
test-fresh:
	ORBITFARM_ARTIFACTS=$(ARTIFACTS) bash tools/fresh_demo.sh

# The dataset formats read by their consumers' readers (part of test-main too; ~30 s).
test-formats: venv
	$(PY) -m pytest -q tests/formats

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

sge-up:
	bash tests/sge/cluster.sh up

sge-down:
	bash tests/sge/cluster.sh down

htcondor-up:
	ORBITFARM_CONDOR_BLENDER=1 bash tests/htcondor/cluster.sh up

htcondor-down:
	bash tests/htcondor/cluster.sh down

# Part of test-main too; these run one engine's tests alone. The Ray head (Ray from PyPI in
# its own cached venv) is started and stopped by the tests themselves.
test-ray: venv
	$(PY) -m pytest -q tests/ray

test-kubernetes: venv
	$(PY) -m pytest -q -m "not kubernetes_cluster" tests/kubernetes

# A real Kubernetes v1.20 control plane (built from Debian's source package once, cached) with a
# stand-in node agent, started and stopped by the tests (tests/kubernetes/controlplane.sh).
test-kubernetes-cluster: venv
	$(PY) -m pytest -q -m kubernetes_cluster tests/kubernetes

k8s-up:
	ORBITFARM_K8S_PYTHON=$(CURDIR)/$(PY) bash tests/kubernetes/controlplane.sh up

k8s-down:
	bash tests/kubernetes/controlplane.sh down

ray-up:
	bash tests/ray/cluster.sh up

ray-down:
	bash tests/ray/cluster.sh down

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .blender-user test-artifacts

# -- Cloud services (issue 15) ------------------------------------------------------------------
# The cloud SDKs get a venv of their own (Python 3.11, no bpy): ngcsdk 3.x pins old libraries and
# batchcompute only installs with `--no-build-isolation` and setuptools<81 (issue 15's facts), which
# must not reach the dev venv; deadline, openjd and accsyn alone would fit there (pip --dry-run:
# nothing of the dev venv changes), but keeping every SDK here keeps `test-main` free of them.
# The worker still runs on the dev venv's bpy: tests hand `.venv/bin/python` to the targets.
# Engineers add their SDK to CLOUD_PKGS (one package per line keeps merges trivial).
VENV_CLOUD := .venv-cloud
CLOUD_PKGS := \
	deadline \
	openjd-cli \
	openjd-model \
	accsyn-python-api \
	alibabacloud-pai-dlc20201203 \
	'ngcsdk[telemetry]==3.169.4'
$(VENV_CLOUD)/.ready: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV_CLOUD)
	$(VENV_CLOUD)/bin/pip install -q --upgrade pip
	$(VENV_CLOUD)/bin/pip install -q pytest hypothesis pyyaml requests blender-asset-tracer \
		zstandard 'setuptools<81' wheel $(CLOUD_PKGS)
	$(VENV_CLOUD)/bin/pip install -q --no-build-isolation batchcompute
	$(VENV_CLOUD)/bin/pip install -q --no-deps -e .
	@touch $@

# The services cannot exist here: tests talk to stand-in servers on 127.0.0.1 that they start.
# `unshare -rn` gives the tests a network namespace with only loopback (brought up first), so a
# request that would leave the machine fails instead; tests/cloud/conftest.py refuses to run
# anywhere else. Metadata look-ups and telemetry are switched off and the keys are fake.
CLOUD_ENV := ALIBABA_CLOUD_ECS_METADATA_DISABLED=true AWS_EC2_METADATA_DISABLED=true \
	DEADLINE_CLOUD_TELEMETRY_OPT_OUT=true AWS_ACCESS_KEY_ID=AKIAFAKEORBITFARM \
	AWS_SECRET_ACCESS_KEY=fake-secret AWS_DEFAULT_REGION=us-west-2 \
	ALIBABA_CLOUD_ACCESS_KEY_ID=fake-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=fake-secret \
	ORBITFARM_TEST_BPY_PYTHON=$(CURDIR)/$(PY)
test-cloud: venv $(VENV_CLOUD)/.ready
	env $(CLOUD_ENV) unshare -rn bash -c 'ip link set lo up && \
	  exec $(VENV_CLOUD)/bin/python -m pytest -q -m cloud tests/cloud'
