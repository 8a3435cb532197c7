# cmem - authenticated cluster membership agent.
#   make            build the programs into build/
#   make check      install what is missing, build, run every test
#   make demo       install what is missing, build, run a 3-member cluster
#   make sanitize   unit tests under ASan + UBSan
#   make fuzz       libFuzzer targets (FUZZ_SECONDS=N each)
#   make bench      receive-path microbenchmark
#   make bench-cluster  5, 16, 64 daemons and one following 10 000 members (root)
#   make bench-peers    cmem and Serf side by side (root; installs serf, gnuplot)
#   make deps       apt-get install what the build needs

CC       ?= gcc
BUILD    ?= build
PKGS     := libsodium libconfig jansson
DEBS     := build-essential pkg-config libsodium-dev libconfig-dev libcmocka-dev libjansson-dev \
            clang libclang-rt-14-dev iproute2 nftables util-linux procps python3 tcpdump
FUZZ_SECONDS ?= 60

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
STATIC_LIBS := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) -lm

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Iinclude $(PKG_CFLAGS)
override LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS   += $(PKG_LIBS) -lm

PROGS    := cmemd cmemctl cmem-keygen
MAIN_SRCS := $(addprefix src/,$(addsuffix .c,$(PROGS)))
LIB_SRCS := $(filter-out $(MAIN_SRCS),$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libcmem.a
TOOLS    := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
HDRS     := $(wildcard include/*.h)

.PHONY: all deps check unit system demo sanitize fuzz bench bench-cluster bench-peers clean soak \
        have-deps

all: $(addprefix $(BUILD)/,$(PROGS)) $(TOOLS)

$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%: $(BUILD)/obj/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# cmemd is linked statically, as a static PIE (so still position
# independent): shared libraries are mapped whole by fault-around and would
# more than double the resident size of a daemon that runs on every host.
$(BUILD)/cmemd: $(BUILD)/obj/cmemd.o $(LIB)
	$(CC) $(CFLAGS) $(filter-out -pie,$(LDFLAGS)) -static-pie -o $@ $< $(LIB) $(STATIC_LIBS)

# keep objects: make would delete them as intermediate files
.SECONDARY:

$(BUILD)/obj/tool-%.o: tools/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(TOOLS): $(BUILD)/%: $(BUILD)/obj/tool-%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(LIB) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

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

check: have-deps
	$(MAKE) --no-print-directory all unit-bins
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory system

unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; \
	  (cd tests && ../$$t) || fail=1; done; \
	[ $$fail -eq 0 ] || { echo "unit tests FAILED"; exit 1; }

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
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz_common.h $(LIB_SRCS) $(HDRS)
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS) -lm

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

$(BUILD)/bench_wire: bench/bench_wire.c $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

clean:
	rm -rf build build-san
