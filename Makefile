# The two commands of the README: `make dev` and `make test`. Both set up a fresh
# machine first (tests/tools/setup.sh is idempotent), then build.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup build dev test bench load fuzz fmt

help:
	@echo "make dev    set up, build and start the local stack (prints the URLs)"
	@echo "make test   set up, build and run every test"
	@echo "make bench  set up, build and print the size and speed figures"
	@echo "make load   set up, build, and pay with LOAD_CUSTOMERS (default 200) concurrent customers; books checked"
	@echo "make fuzz   run every fuzz target for FUZZ_SECONDS (default 60) each (nightly)"

setup:
	@tests/tools/setup.sh

build: setup
	@tests/tools/build.sh

dev: build
	@node tests/tools/dev.mjs

test: build
	@tests/tools/test.sh

bench: build
	@node tests/tools/bench.mjs

load: build
	@node tests/tools/load.mjs

fuzz:
	@tests/tools/fuzz.sh

fmt:
	cargo fmt --all
