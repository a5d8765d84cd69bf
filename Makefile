# Two commands on a fresh Debian 12 machine:
#   make run    set everything up and start the kiosk window on its simulators
#   make test   set everything up and run the whole suite with no display
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock pyproject.toml | sha1sum | cut -c1-12)
# Debian packages the kiosk and its tests need, in one place.
# Qt's runtime (offscreen and the window system), fonts:
QT_PACKAGES := libegl1 libgl1 libopengl0 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
	fonts-dejavu-core
# Qt's xcb platform plugin (a real X display; from Qt 6.5 it will not load without xcb-cursor):
QT_XCB_PACKAGES := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 \
	libxcb-xinerama0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 libxcb-util1 libx11-xcb1
# The card reader: pcscd, vsmartcard's vpcd (the tests' virtual reader), the PC/SC headers
# pyscard builds against:
PCSC_PACKAGES := pcscd vsmartcard-vpcd libpcsclite-dev
# The tests: zbar-tools decodes the receipt QR code; Xvfb, xdotool and ImageMagick's import run
# the window smoke test on a real X server (tests/e2e/test_window_xcb.py); PostgreSQL's server
# binaries for the back office's tests (a fixture starts one as an unprivileged user); chromium,
# its WebDriver and poppler's pdftoppm open the invoice pages and render the PDFs:
TEST_PACKAGES := zbar-tools xvfb xdotool imagemagick postgresql chromium chromium-driver poppler-utils
# The back office's invoice PDF (WeasyPrint lays out with Pango):
BACKOFFICE_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0
# The second sense on the driver's screens: audio cues (ALSA's aplay), spoken prompts:
AUDIO_PACKAGES := alsa-utils espeak-ng
DEB_PACKAGES := python3-venv $(BACKOFFICE_PACKAGES) $(QT_PACKAGES) $(QT_XCB_PACKAGES) $(PCSC_PACKAGES) \
	$(AUDIO_PACKAGES) $(TEST_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export QT_QPA_FONTDIR ?= /usr/share/fonts/truetype/dejavu

.PHONY: run test lint typecheck contracts deps-debian venv bench lock screenshots clean \
	translations update-translations

deps-debian:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@$(MAKE) --no-print-directory deps-debian
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*; touch $(STAMP)

# deps-debian every time (a quick dpkg-query): a package added here reaches an existing venv too
venv: deps-debian $(STAMP) translations

# The driver's screens in every language: the .ts sources (kiosk/resources/translations) compiled to
# the .qm files the kiosk loads (not kept in git: built here, at install and by the package).
TS_FILES := $(wildcard kiosk/resources/translations/kiosk_*.ts)
QM_FILES := $(TS_FILES:.ts=.qm)
translations: $(QM_FILES)
kiosk/resources/translations/%.qm: kiosk/resources/translations/%.ts $(STAMP)
	$(VENV)/bin/pyside6-lrelease -silent $< -qm $@

# After changing texts on the screens: collect them into the .ts files (then translate the new
# entries, e.g. with pyside6-linguist, and `make translations`).
UI_SOURCES := $(wildcard kiosk/ui/*.py)
update-translations: $(STAMP)
	$(VENV)/bin/pyside6-lupdate -no-obsolete -locations none -source-language en \
		$(UI_SOURCES) -ts $(foreach l,de fr nl,kiosk/resources/translations/kiosk_$(l).ts)

run: venv
	$(VENV)/bin/kiosk run --demo

test: venv lint typecheck contracts
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests -q --benchmark-disable

lint: venv
	$(VENV)/bin/ruff check kiosk drivers tests

typecheck: venv
	$(VENV)/bin/mypy

contracts: venv
	$(VENV)/bin/lint-imports

bench: venv
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/bench --benchmark-only -q -s

screenshots: venv
	QT_QPA_PLATFORM=offscreen $(PY) -m kiosk.ui.screenshots screenshots

# Regenerate the hash-pinned lock after changing dependencies in pyproject.toml.
lock: venv
	$(VENV)/bin/pip install -q uv && $(VENV)/bin/uv pip compile pyproject.toml --extra dev \
		--generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
