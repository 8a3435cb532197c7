# cmem - authenticated cluster membership agent.
#   make            build the programs into build/
#   make check      install what is missing, build, run every test
#   make demo       install what is missing, build, run a 3-member cluster
#   make sanitize   unit tests under ASan + UBSan
#   make fuzz       libFuzzer targets (FUZZ_SECONDS=N each)
#   make bench      receive-path microbenchmark
#   make bench-cluster  5, 16, 64 daemons and one following 10 000 members (root)
#   make bench-peers    cmem and Serf side by side (root; installs serf, gnuplot)
#   make sim        the simulator (sim/): the shipped scenarios, tables and a plot
#   make sim-test   timing claims checked in the simulator over many seeds
#   make sim-check  the simulator beside bench-cluster's real daemons (root)
#   make deps       apt-get install what the build needs

CC       ?= gcc
BUILD    ?= build
PKGS     := libsodium libconfig jansson
DEBS     := build-essential pkg-config libsodium-dev libconfig-dev libcmocka-dev libjansson-dev \
            clang libclang-rt-14-dev iproute2 nftables util-linux procps python3 tcpdump \
            python3-prometheus-client python3-nacl
FUZZ_SECONDS ?= 60
STATIC   ?= 1

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
STATIC_LIBS := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) -lm

# Sources by role: src/lib (shared by all three programs), src/daemon
# (cmemd), src/ctl (cmemctl), src/keys (cmem-keygen and the key files).
# Each header sits beside its source; everything but the three mains goes
# into one libcmem.a that every program, test, fuzz target and benchmark
# links.
SRC_DIRS := src/lib src/daemon src/ctl src/keys
INCLUDES := $(addprefix -I,$(SRC_DIRS))
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP
override LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS   += $(PKG_LIBS) -lm

PROGS    := cmemd cmemctl cmem-keygen
MAIN_SRCS := src/daemon/cmemd.c src/ctl/cmemctl.c src/keys/cmem-keygen.c
ALL_SRCS := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
LIB_SRCS := $(filter-out $(MAIN_SRCS),$(ALL_SRCS))
obj      = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(LIB_SRCS))
LIB      := $(BUILD)/libcmem.a
TOOLS    := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit system demo sanitize fuzz bench bench-cluster bench-peers clean soak \
        have-deps

all: $(addprefix $(BUILD)/,$(PROGS)) $(TOOLS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/cmemctl: $(BUILD)/obj/ctl/cmemctl.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/cmem-keygen: $(BUILD)/obj/keys/cmem-keygen.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# cmemd is linked statically, as a static PIE (so still position
# independent): shared libraries are mapped whole by fault-around and would
# more than double the resident size of a daemon that runs on every host.
# `make STATIC=0` links it like the other programs (the Debian package does,
# so that a libsodium security update reaches the daemon).
ifneq ($(STATIC),0)
$(BUILD)/cmemd: $(BUILD)/obj/daemon/cmemd.o $(LIB)
	$(CC) $(CFLAGS) $(filter-out -pie,$(LDFLAGS)) -static-pie -o $@ $< $(LIB) $(STATIC_LIBS)
else
$(BUILD)/cmemd: $(BUILD)/obj/daemon/cmemd.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)
endif

# keep objects: make would delete them as intermediate files
.SECONDARY:

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(TOOLS): $(BUILD)/%: $(BUILD)/obj/tools/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The test key has one definition, the vector keyring tests/vectors/keyring:
# the unit tests, fuzz targets and benchmark take it as C from this header.
TESTKEY_H := $(BUILD)/gen/testkey.h
$(TESTKEY_H): tests/vectors/keyring
	@mkdir -p $(@D)
	awk 'BEGIN { print "/* made from tests/vectors/keyring by the Makefile */" } \
	  /^[0-9]/ { printf "#define TEST_KEY%s_HEX \"%s\"\n", $$1, $$2; \
	  ring = ring sprintf(" \"%s\\n\"", $$0) } END { print "#define TEST_KEYRING_TEXT" ring }' \
	  $< > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TESTKEY_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -I$(BUILD)/gen $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(CMOCKA_LIBS)

# generated dependencies (-MMD -MP): every object, test and tool is rebuilt
# when a header it includes changes, and only then
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Installs only when something is missing, so check/demo stay fast.
have-deps:
	@pkg-config --exists $(PKGS) cmocka && command -v clang >/dev/null \
	  && command -v ip >/dev/null && command -v nft >/dev/null \
	  || $(MAKE) --no-print-directory deps

deps:
	@if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
	echo "installing: $(DEBS)"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBS)

# Runs the system tests even when a unit test failed, so that every failure
# is reported; the last line totals both (skipped system tests included).
check: have-deps
	$(MAKE) --no-print-directory all unit-bins $(SIM)
	@rm -f $(BUILD)/unit.summary $(BUILD)/system.summary; \
	CMEM_SUMMARY=$(BUILD)/unit.summary $(MAKE) --no-print-directory unit; u=$$?; \
	$(MAKE) --no-print-directory sim-test || u=1; \
	CMEM_SUMMARY=$(BUILD)/system.summary $(MAKE) --no-print-directory system; s=$$?; \
	echo "check: $$(cat $(BUILD)/unit.summary 2>/dev/null || echo 'unit tests did not run');" \
	  "$$(cat $(BUILD)/system.summary 2>/dev/null || echo 'system tests did not run')"; \
	[ $$u -eq 0 ] && [ $$s -eq 0 ]

unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@sh tests/unit/run.sh $(UNIT_BINS)

# The identity vectors come from a separate implementation (Python and
# python3-nacl, not the C code): made again, they must be the committed file.
.PHONY: vectors-check
vectors-check:
	@/usr/bin/python3 tests/vectors/gen_ident.py | cmp - tests/vectors/ident.tsv && \
	  echo "vectors: tests/vectors/ident.tsv made again by gen_ident.py, identical"

system: all
	@sh tests/system/run.sh $(BUILD)

soak: all
	@CMEM_SOAK=1 sh tests/system/run.sh $(BUILD)

demo: have-deps
	$(MAKE) --no-print-directory all
	@sh tools/demo.sh $(BUILD)

sanitize: have-deps
	$(MAKE) --no-print-directory BUILD=build-san CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" unit

FUZZ_TARGETS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
# The fuzz targets link their own build of libcmem.a, instrumented
# ($(BUILD)/fuzz-lib), like every other program links the library.
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LIB := $(BUILD)/fuzz-lib/libcmem.a

$(FUZZ_LIB): $(LIB_SRCS) FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz-lib CC=clang \
	  CFLAGS="-O1 -g $(FUZZ_SAN)" $(FUZZ_LIB)

$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_LIB) $(TESTKEY_H)
	@mkdir -p $(@D)
	clang -O1 -g -std=c11 -D_GNU_SOURCE $(INCLUDES) -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ $< $(FUZZ_LIB) $(PKG_LIBS) -lm

.PHONY: FORCE
FORCE:

fuzz: have-deps $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
	  mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  echo "== $$n for $(FUZZ_SECONDS) s"; \
	  (cd fuzz && ../$$t -max_total_time=$(FUZZ_SECONDS) -max_len=1400 \
	    ../$(BUILD)/fuzz/corpus-$$n corpus/$$n) || exit 1; done

bench: all $(BUILD)/bench_wire
	@$(BUILD)/bench_wire

# Cluster benchmarks: real daemons in network namespaces, a table to paste.
# Not tests: they stop by themselves.  Run them under the shared lock
# (flock /tmp/cmem-systest.lock make bench-cluster); BENCH_QUICK=1 for a
# short run, other knobs at the top of bench/cluster.py and bench/peers.py.
bench-cluster: have-deps
	$(MAKE) --no-print-directory all
	@CMEM_BUILD=$(abspath $(BUILD)) python3 bench/cluster.py

# serf and gnuplot only serve this target: installed here, not by `make deps`.
bench-peers: have-deps
	$(MAKE) --no-print-directory all
	@command -v serf >/dev/null && command -v gnuplot >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; echo "installing: serf gnuplot-nox"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    serf gnuplot-nox; }
	@CMEM_BUILD=$(abspath $(BUILD)) python3 bench/peers.py

# ---- the simulator (sim/README.md) ----
SIM_SRCS := $(wildcard sim/*.c)
SIM_OBJS := $(patsubst sim/%.c,$(BUILD)/obj/sim/%.o,$(SIM_SRCS))
SIM      := $(BUILD)/cmem-sim
SIM_SCENARIOS ?= $(wildcard sim/scenarios/*.sim)

$(BUILD)/obj/sim/%.o: sim/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isim -c -o $@ $<

$(SIM): $(SIM_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SIM_OBJS) $(LIB) $(LDLIBS)

.PHONY: sim sim-test sim-check
sim: $(SIM)
	@sh sim/run.sh $(SIM) $(BUILD) $(SIM_SCENARIOS)

sim-test: $(SIM)
	@sh sim/test.sh $(SIM)

sim-check: have-deps $(SIM)
	$(MAKE) --no-print-directory all
	@CMEM_BUILD=$(abspath $(BUILD)) python3 sim/check.py $(SIM)

$(BUILD)/bench_wire: bench/bench_wire.c $(LIB) $(TESTKEY_H)
	$(CC) $(CFLAGS) -I$(BUILD)/gen $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

clean:
	rm -rf build build-san

# ---- install, uninstall, Debian package ----------------------------------
#   make install   [DESTDIR=] [PREFIX=/usr/local] [SYSCONFDIR=] [UNITDIR=] ...
#   make uninstall (same variables; keeps a changed configuration)
#   make deb       build/cmem_*.deb with dpkg-buildpackage (installs its tools)
# PREFIX=/usr is the distribution layout: configuration in /etc, units where
# this system's systemd looks for them.  Anything under /etc/cmem/ in the
# shipped files is rewritten to SYSCONFDIR/cmem/, the program paths to
# SBINDIR and BINDIR, so the installed units and sample configuration agree
# with the layout chosen.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
LIBEXECDIR  ?= $(PREFIX)/libexec
MANDIR      ?= $(PREFIX)/share/man
ifeq ($(PREFIX),/usr)
SYSCONFDIR  ?= /etc
SD_DIR       = $(shell pkg-config --variable=$(1) systemd 2>/dev/null)
UNITDIR     ?= $(or $(call SD_DIR,systemdsystemunitdir),/lib/systemd/system)
SYSUSERSDIR ?= $(or $(call SD_DIR,sysusersdir),/usr/lib/sysusers.d)
TMPFILESDIR ?= $(or $(call SD_DIR,tmpfilesdir),/usr/lib/tmpfiles.d)
else
SYSCONFDIR  ?= $(PREFIX)/etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
endif
INSTALL     ?= install
UNITS       := cmemd.service cmem-hook@.service cmem-textfile.service cmem-textfile.timer
MANPAGES    := $(wildcard man/*.[158])
DEB_DEBS    := debhelper fakeroot lintian dpkg-dev pkg-config libsodium-dev libconfig-dev \
               libjansson-dev libcmocka-dev
LAYOUT_SED  := -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/usr/bin/|$(BINDIR)/|g' \
               -e 's|/usr/libexec/cmem/|$(LIBEXECDIR)/cmem/|g' -e 's|/etc/cmem/|$(SYSCONFDIR)/cmem/|g'

.PHONY: install uninstall deb deb-deps

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/cmem \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/cmem/hooks $(addprefix $(DESTDIR)$(MANDIR)/man,1 5 8)
	$(INSTALL) -m 0755 $(BUILD)/cmemd $(DESTDIR)$(SBINDIR)/cmemd
	$(INSTALL) -m 0755 $(BUILD)/cmemctl $(BUILD)/cmem-keygen $(DESTDIR)$(BINDIR)/
	sed $(LAYOUT_SED) dist/cmem-textfile > $(DESTDIR)$(LIBEXECDIR)/cmem/cmem-textfile
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/cmem/cmem-textfile
	for m in $(MANPAGES); do \
	  sed $(LAYOUT_SED) $$m > $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	  chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	for u in $(UNITS); do \
	  sed $(LAYOUT_SED) dist/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	$(INSTALL) -m 0644 dist/sysusers.d/cmem.conf $(DESTDIR)$(SYSUSERSDIR)/cmem.conf
	$(INSTALL) -m 0644 dist/tmpfiles.d/cmem.conf $(DESTDIR)$(TMPFILESDIR)/cmem.conf
	@conf=$(DESTDIR)$(SYSCONFDIR)/cmem/cmemd.conf; \
	if [ -e "$$conf" ]; then echo "keeping $$conf (the sample is conf/cmemd.conf)"; \
	else sed $(LAYOUT_SED) conf/cmemd.conf > "$$conf" && chmod 0644 "$$conf" && \
	  echo "installed $$conf"; fi

# The configuration is removed only when it is still the sample, unchanged.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/cmemd $(DESTDIR)$(BINDIR)/cmemctl $(DESTDIR)$(BINDIR)/cmem-keygen
	rm -f $(DESTDIR)$(LIBEXECDIR)/cmem/cmem-textfile
	-rmdir $(DESTDIR)$(LIBEXECDIR)/cmem 2>/dev/null
	rm -f $(foreach m,$(MANPAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/cmem.conf $(DESTDIR)$(TMPFILESDIR)/cmem.conf
	@conf=$(DESTDIR)$(SYSCONFDIR)/cmem/cmemd.conf; \
	if [ -e "$$conf" ] && sed $(LAYOUT_SED) conf/cmemd.conf | cmp -s - "$$conf"; then \
	  rm -f "$$conf"; rmdir $(DESTDIR)$(SYSCONFDIR)/cmem/hooks $(DESTDIR)$(SYSCONFDIR)/cmem 2>/dev/null; \
	elif [ -e "$$conf" ]; then echo "keeping $$conf: it was changed"; fi

# dpkg-buildpackage writes its results next to the source tree and cleans
# the tree (make clean) first: build a copy in $(BUILD)/deb instead (with
# none of this make's variables), then
# keep the packages in $(BUILD).  Lintian errors fail the target.
deb-deps:
	@missing=""; for p in $(DEB_DEBS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; echo "installing:$$missing"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $$missing; fi

deb: deb-deps
	@v=$$(sed -n 's/^#define CMEM_VERSION "\(.*\)"$$/\1/p' src/lib/version.h 2>/dev/null); \
	c=$$(dpkg-parsechangelog -S Version); \
	[ -z "$$v" ] || [ "$$v" = "$$c" ] || { echo "make deb: debian/changelog is at $$c but" \
	  "src/lib/version.h at $$v: add a changelog entry for $$v"; exit 1; }
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/cmem
	tar -cf - --exclude=./.git --exclude=./$(BUILD) --exclude=./build --exclude=./build-san . \
	  | tar -C $(BUILD)/deb/cmem -xf -
	cd $(BUILD)/deb/cmem && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u STATIC -u DESTDIR -u PREFIX \
	  -u SYSCONFDIR -u UNITDIR -u SYSUSERSDIR -u TMPFILESDIR dpkg-buildpackage -us -uc -b
	mv $(BUILD)/deb/cmem_*.deb $(BUILD)/deb/cmem_*.buildinfo $(BUILD)/deb/cmem_*.changes $(BUILD)/
	-mv $(BUILD)/deb/cmem-dbgsym_*.*deb $(BUILD)/ 2>/dev/null
	lintian --fail-on error --info $(BUILD)/cmem_*.changes
	rm -rf $(BUILD)/deb
	@ls -1 $(BUILD)/cmem_*.deb
