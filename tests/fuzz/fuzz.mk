# tests/fuzz/fuzz.mk: the libFuzzer harnesses (tests/fuzz/README.md), included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_HARNESSES="fuzz_http ..."]
#                    build, then fuzz each harness for FUZZ_SECONDS on a copy of its seed
#                    corpus (build/fuzz/work/<h>); prints executions and crashes per harness
#   make fuzz-regress
#                    build, then replay tests/fuzz/corpus/<h>/* and tests/fuzz/regress/<h>/*
#   make fuzz-smoke [FUZZ_SMOKE_SECONDS=3]
#                    every harness for a few seconds (part of make test)
#   make fuzz-build  build only (build/fuzz/<h>)
#
# The daemon's sources are compiled again into build/fuzz/obj with clang, coverage
# instrumentation and ASan+UBSan, with the Makefile's CPPFLAGS and WARN.

FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 60
FUZZ_BUILD     := build/fuzz
FUZZ_HARNESSES ?= fuzz_http fuzz_sio fuzz_ws fuzz_jug_client fuzz_jug_publish fuzz_cluster fuzz_config
FUZZ_ALL       := fuzz_http fuzz_sio fuzz_ws fuzz_jug_client fuzz_jug_publish fuzz_cluster fuzz_config
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS    := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LIBOBJS   := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(filter-out src/app/main.c,$(SRCS))) \
                  $(FUZZ_BUILD)/obj/lua_library.o $(FUZZ_BUILD)/obj/console_html.o
FUZZ_BINS      := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_ALL))

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC   $< (fuzz)"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -std=c11 -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/lua_library.c: redis/juggernaut.lua scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed.sh jg_lua_library $< > $@

$(FUZZ_BUILD)/obj/lua_library.o: $(FUZZ_BUILD)/lua_library.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/console_html.c: admin/console.html scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed.sh jg_console_html $< > $@

$(FUZZ_BUILD)/obj/console_html.o: $(FUZZ_BUILD)/console_html.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/harness/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	@echo "  CC   $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -std=c11 -MMD -MP -c -o $@ $<

# getrandom is wrapped so session ids are deterministic (tests/fuzz/fuzz_common.c)
$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/harness/%.o $(FUZZ_BUILD)/harness/fuzz_common.o $(FUZZ_LIBOBJS)
	@echo "  LD   $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wl,--wrap=getrandom $(FUZZ_WRAP) -o $@ $^ $(LDLIBS)

# fuzz_cluster is Redis: it keeps the commands the daemon sends and answers them itself
$(FUZZ_BUILD)/fuzz_cluster: FUZZ_WRAP := -Wl,--wrap=jg_broker_command,--wrap=jg_broker_ready,--wrap=jg_broker_subscribed,--wrap=jg_broker_down_for,--wrap=jg_broker_start

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-regress: fuzz-build
	@sh tests/fuzz/run.sh regress 0 $(FUZZ_ALL)

# a short run of every harness from its seeds (make test): new paths get a few seconds
FUZZ_SMOKE_SECONDS ?= 3
fuzz-smoke: fuzz-build
	@sh tests/fuzz/run.sh fuzz $(FUZZ_SMOKE_SECONDS) $(FUZZ_ALL)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-smoke
-include $(FUZZ_LIBOBJS:.o=.d) $(patsubst %,$(FUZZ_BUILD)/harness/%.d,$(FUZZ_ALL) fuzz_common)
