# The two commands: `make run` and `make test`. Both install into .venv first, once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TAILWIND := npx --yes tailwindcss@3.4.19
DASHBOARD := b1e55ed/api/dashboard
SECRET_PATTERN := (sk-[a-zA-Z0-9]{20,}|xai-[a-zA-Z0-9]{20,}|apify_api_[a-zA-Z0-9]{20,}|0x[0-9a-fA-F]{64})

.PHONY: install run test test-fast lint typecheck secrets pytest browser css bench service clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python -m b1e55ed $(ARGS)

test: install lint typecheck secrets browser pytest

# The fast lane, for the edit-test loop: lint and every test not marked slow (no process spawned, no long replay).
test-fast: install lint
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# The spec's CI check for hard-coded secrets, widened to every shipped folder and to raw private keys.
secrets:
	@if grep -rnE '$(SECRET_PATTERN)' b1e55ed actors config bench; then \
		echo "hard-coded secret found (see above): move it to the environment or .env"; exit 1; \
	else echo "secrets: no key-shaped strings in b1e55ed/ actors/ config/ bench/"; fi

pytest: install browser
	$(BIN)/pytest

# The dashboard's browser test drives Debian's Chromium (tests/e2e); install it only when it is missing.
browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

# Rebuild the dashboard's committed CSS from its templates with the Tailwind v3 CLI (needs Node; npx caches the
# CLI outside the repository, so no node_modules appears here).
css:
	cd $(DASHBOARD)/tailwind && $(TAILWIND) -c tailwind.config.js -i input.css -o ../static/dashboard.css --minify

bench: install
	for script in eventlog cycle replay indicators collect venue api soak karma sweep load growth; do $(BIN)/python bench/$$script.py --quick || exit 1; done

# The systemd units (config/*.service, *.timer) with this checkout's path and user: printed, or with INSTALL=1
# written to /etc/systemd/system and enabled (the brain, and the daily collection timer).
UNITS := b1e55ed.service b1e55ed-collect.service b1e55ed-collect.timer
SERVICE_USER ?= $(shell id -un)
service:
	@for unit in $(UNITS); do \
		if [ -n "$(INSTALL)" ]; then \
			sed -e 's|@ROOT@|$(CURDIR)|g' -e 's|@USER@|$(SERVICE_USER)|g' config/$$unit | $(SUDO) tee /etc/systemd/system/$$unit >/dev/null || exit 1; \
			echo "installed /etc/systemd/system/$$unit"; \
		else \
			echo "# --- /etc/systemd/system/$$unit"; \
			sed -e 's|@ROOT@|$(CURDIR)|g' -e 's|@USER@|$(SERVICE_USER)|g' config/$$unit; \
		fi; \
	done
	@if [ -n "$(INSTALL)" ]; then \
		mkdir -p data logs && $(SUDO) systemctl daemon-reload && $(SUDO) systemctl enable --now b1e55ed-collect.timer && \
		echo "enabled b1e55ed-collect.timer; start the brain with: sudo systemctl enable --now b1e55ed"; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
