# bench/bench.mk: benchmark tools and runs, included by the Makefile (bench/README.md).
#
#   make bench-tools     build/bench/loadgen, build/bench/ceiling and build/bench/churnfloor
#   make bench           juggernautd vs Nchan vs the kernel's ceiling, 3 repetitions (20-30 min)
#   make bench QUICK=1   smaller sizes, shorter runs (~5 min)
#   make bench BENCH_CLUSTER=yes    only cluster yes (default both: yes leads, no beside it)
#   make bench-base [BASE_REV=main]  build/base/juggernautd from a git revision, then
#   make bench BENCH_BASELINE=build/base/juggernautd   that binary beside this build
#   make bench SCENARIOS=sweep      the offered-load sweep and its plot build/bench/sweep.png

BENCH_OUT    := build/bench
BENCH_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
                -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BENCH_PKGS   := hiredis jansson libcrypto liburing
BENCH_LIBS   := $(shell pkg-config --libs $(BENCH_PKGS) 2>/dev/null) -lev -lwslay -lhttp_parser -lm
BENCH_INC    := -Ibench $(shell pkg-config --cflags $(BENCH_PKGS) 2>/dev/null)
BENCH_TOOLS  := $(BENCH_OUT)/loadgen $(BENCH_OUT)/ceiling $(BENCH_OUT)/churnfloor
# BENCH_EXTRA: more compiler flags (debian/rules passes dpkg-buildflags' hardening ones)
BENCH_EXTRA  ?=

bench-tools: $(BENCH_TOOLS)

$(BENCH_OUT)/loadgen: bench/loadgen.c bench/common.c bench/bench.h bench/bench.mk
	@mkdir -p $(@D)
	@echo "  CC   $@"
	$(Q)$(CC) $(BENCH_CFLAGS) $(BENCH_EXTRA) $(BENCH_INC) $(LDFLAGS) -o $@ bench/loadgen.c bench/common.c $(BENCH_LIBS)

$(BENCH_OUT)/ceiling: bench/ceiling.c bench/common.c bench/bench.h bench/bench.mk
	@mkdir -p $(@D)
	@echo "  CC   $@"
	$(Q)$(CC) $(BENCH_CFLAGS) $(BENCH_EXTRA) $(BENCH_INC) $(LDFLAGS) -o $@ bench/ceiling.c bench/common.c $(BENCH_LIBS)

$(BENCH_OUT)/churnfloor: bench/churnfloor.c bench/bench.mk
	@mkdir -p $(@D)
	@echo "  CC   $@"
	$(Q)$(CC) $(BENCH_CFLAGS) $(BENCH_EXTRA) $(LDFLAGS) -o $@ bench/churnfloor.c

bench:
	@$(MAKE) --no-print-directory all bench-tools
	@QUICK=$(QUICK) REPS=$(REPS) BENCH_CLUSTER=$(BENCH_CLUSTER) BENCH_BASELINE=$(BENCH_BASELINE) \
		SWEEP_RATES="$(SWEEP_RATES)" CHAT_SWEEP_RATES="$(CHAT_SWEEP_RATES)" bash bench/run.sh

# the daemon of another revision, for BENCH_BASELINE: its tree (git archive, so no
# worktree and nothing of this one) built in a temporary directory
BASE_REV ?= main
bench-base:
	@rm -rf $(BENCH_OUT)/base-src && mkdir -p $(BENCH_OUT)/base-src build/base
	git archive --format=tar $(BASE_REV) | tar -x -C $(BENCH_OUT)/base-src
	$(MAKE) --no-print-directory -C $(BENCH_OUT)/base-src all
	cp $(BENCH_OUT)/base-src/build/release/juggernautd build/base/juggernautd
	@git rev-parse --short $(BASE_REV) >build/base/REV
	@rm -rf $(BENCH_OUT)/base-src
	@echo "build/base/juggernautd: $(BASE_REV) ($$(cat build/base/REV))"

.PHONY: bench bench-base bench-tools
