# slap-edge set-up and everyday tasks. Every target works on a fresh Debian/Ubuntu machine with Python 3.10+.
PYTHON ?= python3
VENV ?= .venv
BASE_VENV ?= .venv-base
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian packages: espeak-ng + sox make the synthetic corpus, PortAudio captures audio, PulseAudio gives the tests a
# virtual microphone, mosquitto is the MQTT broker the tests publish to.
DEBIAN_PACKAGES := espeak-ng sox libsox-fmt-all libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins mosquitto
EXTRAS ?= train,data,dev,mqtt,plot,bench

MBROLA_PACKAGES := mbrola $(addprefix mbrola-,br1 br4 cz1 cz2 de1 de2 de5 de6 en1 es1 es3 fr1 fr4 gr2 hu1 in1 in2 it1 it4 \
	mx1 nl2 nl3 pl1 pt1 ro1 sw1 sw2 tr1 tr2 us1 us2 us3)
# More recorded speakers for the same languages (diphone coverage in experiments/results/mbrola-diphone-coverage.json).
# Opt-in: the built-in bundle's corpus was made with the set above, and any installed voice enters a new corpus.
MBROLA_EXTRA_PACKAGES := $(addprefix mbrola-,de3 de4 de7 fr2 fr3 es2 mx2 vz1 it3 br2 br3)
MBROLA_APT := /tmp/slap-edge-mbrola-apt
APT_PRIVATE := -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$(MBROLA_APT)

.PHONY: help setup setup-base debian-packages mbrola-voices mbrola-voices-extra test format demo reproduce-default clean

help:
	@echo "make demo               base install, then listen with the built-in model (microphone or demo file)"
	@echo "make test               full set-up, then the test suite"
	@echo "make setup              .venv with every extra ($(EXTRAS)) and the Debian packages"
	@echo "make setup-base         $(BASE_VENV) with the kiosk install only (no torch)"
	@echo "make mbrola-voices      (root) MBROLA voices for the corpus, from Debian contrib/non-free"
	@echo "make mbrola-voices-extra (root) 11 more MBROLA voices (German, French, Spanish, Italian, Portuguese)"
	@echo "make reproduce-default  rebuild the default bundle from nothing (3-6 hours on a 2-core CPU; resumable)"
	@echo "make reproduce-default VOICES=espeak   the same chain without MBROLA voices (no non-commercial data)"
	@echo "make reproduce-default TEACHER=packed STUDENT=packed  take the committed teachers and first student; distil only the last (slow CPUs)"
	@echo "make reproduce-default TEACHER2_RECIPE= STUDENT2_RECIPE=   the third build's one-stage chain (no intonation stage)"
	@echo "make reproduce-default STUDENT2_DATA=real   the second student stage on the corpus + real-voice training speech"
	@echo "make reproduce-default STUDENT2_DATA=intonation-real   ... on the corpus + intonation corpus + real-voice training speech"
	@echo "make real-voice-dev     (root) real-voice dev suite from Debian packages; RV_MODEL=default scored on it"

debian-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "Debian packages: all present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "run as root: sudo apt-get install -y --no-install-recommends$$missing"; fi

# MBROLA voices (recorded from real people; licence: non-commercial use only) for the default corpus. They are in
# Debian's contrib/non-free sections: a private copy of the system's Debian sources with those components is used for
# this one install, so the system's apt configuration is not edited.
mbrola-voices:
	@test "$$(id -u)" = 0 || { echo "run as root: sudo make mbrola-voices"; exit 1; }
	mkdir -p $(MBROLA_APT)
	sed -E 's/^Components:.*/Components: main contrib non-free/' /etc/apt/sources.list.d/debian.sources \
		> $(MBROLA_APT)/debian.sources
	apt-get $(APT_PRIVATE) update -qq
	DEBIAN_FRONTEND=noninteractive apt-get $(APT_PRIVATE) install -y -qq --no-install-recommends $(MBROLA_PACKAGES)

# Debian 12 (bookworm) does not carry these 11 voices; Debian 13 (trixie) does, as architecture-independent data
# packages that need only `mbrola`. Where the system's sources lack them they are fetched from trixie's contrib/non-free
# through a second private source list and installed with dpkg (the system's apt configuration is not edited).
MBROLA_TRIXIE := /tmp/slap-edge-mbrola-trixie
APT_TRIXIE := -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$(MBROLA_TRIXIE) -o Dir::State::Lists=$(MBROLA_TRIXIE)/lists
mbrola-voices-extra: mbrola-voices
	@if apt-get $(APT_PRIVATE) install -y -qq --no-install-recommends --dry-run $(MBROLA_EXTRA_PACKAGES) >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get $(APT_PRIVATE) install -y -qq --no-install-recommends $(MBROLA_EXTRA_PACKAGES); \
	else \
		echo "the system's Debian sources lack the extra MBROLA voices: fetching them from Debian trixie"; \
		mkdir -p $(MBROLA_TRIXIE)/lists/partial $(MBROLA_TRIXIE)/debs && \
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			> $(MBROLA_TRIXIE)/debian.sources && \
		apt-get $(APT_TRIXIE) update -qq && \
		(cd $(MBROLA_TRIXIE)/debs && apt-get $(APT_TRIXIE) download $(MBROLA_EXTRA_PACKAGES)) && \
		dpkg -i $(MBROLA_TRIXIE)/debs/*.deb; \
	fi

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e ".[$(EXTRAS)]"
	touch $@

setup: debian-packages $(VENV)/.installed

$(BASE_VENV)/.installed: pyproject.toml
	test -d $(BASE_VENV) || $(PYTHON) -m venv $(BASE_VENV)
	$(BASE_VENV)/bin/pip install -q -e .
	touch $@

setup-base: $(BASE_VENV)/.installed

test: setup setup-base
	$(VENV)/bin/ruff check slap_edge tests benchmarks examples
	$(VENV)/bin/ruff format --check slap_edge tests benchmarks examples
	SLAP_BASE_VENV=$(BASE_VENV) HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q

format: setup
	$(VENV)/bin/ruff format slap_edge tests benchmarks
	$(VENV)/bin/ruff check --fix slap_edge tests benchmarks

demo: setup-base
	$(BASE_VENV)/bin/python -m slap_edge.demo

VOICES ?= all
TEACHER ?= train
# Passed on only when given (an empty value too: STUDENT2_RECIPE= turns that stage off), so the chain's own
# defaults per VOICES apply otherwise.
REPRODUCE_VARS := VOICES TEACHER TEACHER2 STUDENT TEACHER2_RECIPE STUDENT2_RECIPE STUDENT2_DATA SOUP_WITH SOUP_TEACHER SOUP_WEIGHT \
  CARRY_RECIPE DEEPEN_RECIPE SOUP_DEEPEN_RECIPE SOUP_RECIPE SOUP_PARTNER_RECIPE
reproduce-default: setup
	$(foreach v,$(REPRODUCE_VARS),$(if $(filter undefined,$(origin $(v))),,$(v)='$($(v))')) bash train/reproduce_default.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache

# The real-voice dev suite from Debian packages (docs/real-voices.md), and RV_MODEL scored on it.
RV_MODEL ?= default
.PHONY: real-voice-dev
real-voice-dev: setup
	PY=$(PY) bash benchmarks/real_voice_dev.sh $(RV_MODEL)
