# Copyright (c) osimage.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Quality gates of the osimage.lifecycle collection. docs/testing.md explains each gate.
#
#   make test                      every gate below (2 at a time), then e2e when tests/e2e/run.sh exists
#   make sanity|units|integration  ansible-test, for each version in ANSIBLE_VERSIONS
#   make sanity-2.19               one gate, one version (also units-X, integration-X)
#   make lint                      ansible-lint --profile production + antsibull-changelog lint
#   make importer                  ansible-galaxy collection build + galaxy-importer on the tarball
#   make try                       a first look: the lifecycle on scratch OSTree system roots, no VM, under a minute (hack/try.sh)
#   make docs-commands             the README's first commands (make try, Install) run as written, in a fresh HOME
#   make demo                      the whole lifecycle on a real python-free OSTree VM (tests/e2e/demo.sh; root)
#   make e2e                       end-to-end tests (tests/e2e/run.sh)
#   make e2e-image                 only the images e2e boots (make test builds them beside its last gates)
#   make bench                     benchmarks (bench/), written to docs/benchmarks.md and docs/benchmarks.png
#   make bench-noop, bench-scale   a no-op upgrade against a status read (P4); status and upgrade over 1000 hosts (P5)
#   make bench-p2-unguarded, bench-p2-soft   P2 without the boot guard; P2 with a soft reboot on the sid guest
#   make clean                     remove build/ (keeps the cached venvs); make clean-venvs removes those
#
# Variables: ANSIBLE_VERSIONS="2.16 2.19 2.21"; JOBS=2 (gates run at once by `make test`);
# SANITY_ARGS, UNITS_ARGS, INTEGRATION_ARGS (extra ansible-test arguments, e.g. SANITY_ARGS="--test pylint").

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Every ansible-core line with a tests/requirements-ansible-<line>.txt can be tested; these are by default.
ANSIBLE_VERSIONS ?= 2.16 2.19 2.21
KNOWN_ANSIBLE_VERSIONS := $(patsubst tests/requirements-ansible-%.txt,%,$(wildcard tests/requirements-ansible-*.txt))
JOBS ?= 2
SANITY_ARGS ?=
UNITS_ARGS ?=
INTEGRATION_ARGS ?=
export JOBS

.PHONY: help test gates sanity units integration lint importer try docs-commands demo e2e e2e-image bench bench-p1 bench-p2 bench-p2-unguarded bench-p2-soft bench-p3 bench-noop bench-scale deps clean clean-venvs

help:
	@sed -n 's/^#   //p' Makefile

# All gates, longest first; run-gates.sh runs JOBS of them at once (never two of one ansible-core line),
# prints each log as it finishes, then runs e2e when tests/e2e/run.sh exists, and ends with a summary.
test:
	@hack/run-gates.sh $(addprefix sanity-,$(ANSIBLE_VERSIONS)) $(addprefix units-,$(ANSIBLE_VERSIONS)) \
		$(addprefix integration-,$(ANSIBLE_VERSIONS)) lint importer docs-commands

sanity: $(addprefix sanity-,$(ANSIBLE_VERSIONS))
units: $(addprefix units-,$(ANSIBLE_VERSIONS))
integration: $(addprefix integration-,$(ANSIBLE_VERSIONS))

define ansible_test_gates
.PHONY: sanity-$(1) units-$(1) integration-$(1)
sanity-$(1):
	hack/ansible-test.sh $(1) sanity $$(SANITY_ARGS)
units-$(1):
	hack/ansible-test.sh $(1) units $$(UNITS_ARGS)
integration-$(1):
	hack/ansible-test.sh $(1) integration $$(INTEGRATION_ARGS)
endef
$(foreach v,$(KNOWN_ANSIBLE_VERSIONS),$(eval $(call ansible_test_gates,$(v))))

lint:
	hack/lint.sh

importer:
	hack/importer.sh

# Status, upgrade in check mode with --diff, upgrade, status again, on two scratch system roots (build/try/).
try:
	hack/try.sh

# The README's first commands (make try, the status by hand, the Install), run as written: hack/run-doc-commands.py.
docs-commands:
	PATH_PREFIX="$$(bash -c 'source hack/lib.sh && ensure_ansible_venv 2.19')/bin" python3 hack/run-doc-commands.py

# v1 -> v2 upgraded, v3 unhealthy -> rolled back to v2, status table; installs what it needs.
demo:
	bash tests/e2e/demo.sh

# Hook for the end-to-end tests (qemu VM harness in tests/e2e); `make test` runs it when tests/e2e/run.sh exists.
e2e:
	@if [[ -f tests/e2e/run.sh ]]; then bash tests/e2e/run.sh; else echo "e2e: tests/e2e/run.sh does not exist yet: nothing to run"; fi
# The images e2e boots, built (or found in the cache) ahead of it: make test runs this beside its last gates.
e2e-image:
	@if [[ -f tests/e2e/run.sh ]]; then bash tests/e2e/run.sh --images; else echo "e2e-image: no tests/e2e/run.sh: nothing to build"; fi

# Benchmarks: ratios against the plain commands, measured in one run (docs/benchmarks.md).
# They use the ansible-core 2.19 venv of the gates; matplotlib draws the plot.
BENCH_PYTHON := .venv/bench/bin/python
$(BENCH_PYTHON):
	python3 -m venv .venv/bench
	.venv/bench/bin/pip install --quiet 'ansible-core==2.19.*' matplotlib
bench-p1: $(BENCH_PYTHON)
	hack/ensure-apt-packages.sh ostree
	ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p1_task_overhead.py
# P2 and P3 boot the qemu guests of tests/e2e (root; the image is built or reused).
bench-p2: $(BENCH_PYTHON)
	ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p2_cycle.py
# P2 without the boot guard (what the guard costs), and with a soft reboot on the sid guest.
bench-p2-unguarded: $(BENCH_PYTHON)
	P2_VARIANT=unguarded ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p2_cycle.py
	$(BENCH_PYTHON) bench/report.py p2-unguarded
bench-p2-soft: $(BENCH_PYTHON)
	E2E_GUEST=sid P2_VARIANT=soft ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p2_cycle.py
	$(BENCH_PYTHON) bench/report.py p2-soft
bench-p3: $(BENCH_PYTHON)
	ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p3_fleet.py
	$(BENCH_PYTHON) bench/report.py p3
# Scratch sysroots as local hosts, as P1: a no-op upgrade.yml against image_info (P4), and status.yml and a
# no-op upgrade.yml over 100, 500 and 1000 hosts (P5; P5_SIZES, P5_FORKS). Each rewrites its own section of
# docs/benchmarks.md and the plot, and leaves the others as they are.
bench-noop: $(BENCH_PYTHON)
	hack/ensure-apt-packages.sh ostree
	ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p4_noop.py
	$(BENCH_PYTHON) bench/report.py p4
bench-scale: $(BENCH_PYTHON)
	hack/ensure-apt-packages.sh ostree
	ANSIBLE_BIN_DIR=.venv/bench/bin $(BENCH_PYTHON) bench/p5_scale.py
	$(BENCH_PYTHON) bench/report.py p5
bench: bench-p1 bench-p2 bench-p2-unguarded bench-p2-soft bench-p3 bench-noop bench-scale
	$(BENCH_PYTHON) bench/report.py

# Debian packages the gates need (integration targets: ostree, gnupg; sanity: shellcheck). The gates install them on demand too.
deps:
	hack/ensure-apt-packages.sh ostree gnupg shellcheck

clean:
	rm -rf build

clean-venvs:
	rm -rf .venv
