# bench/bench.mk: benchmark tools and runs, included by the Makefile (bench/README.md).
#
#   make bench-tools     build/bench/loadgen and build/bench/ceiling
#   make bench           juggernautd vs Nchan vs the kernel's ceiling, 3 repetitions (12-20 min)
#   make bench QUICK=1   smaller sizes, shorter runs (< 5 min)
#   make bench BENCH_CLUSTER=both   juggernautd with cluster no and cluster yes (default no)

BENCH_OUT    := build/bench
BENCH_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
                -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BENCH_PKGS   := hiredis jansson libcrypto
BENCH_LIBS   := $(shell pkg-config --libs $(BENCH_PKGS) 2>/dev/null) -lev -lwslay -lhttp_parser -lm
BENCH_INC    := -Ibench $(shell pkg-config --cflags $(BENCH_PKGS) 2>/dev/null)
BENCH_TOOLS  := $(BENCH_OUT)/loadgen $(BENCH_OUT)/ceiling
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

bench:
	@$(MAKE) --no-print-directory all bench-tools
	@QUICK=$(QUICK) REPS=$(REPS) BENCH_CLUSTER=$(BENCH_CLUSTER) bash bench/run.sh

.PHONY: bench bench-tools
