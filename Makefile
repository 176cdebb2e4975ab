# juggernautd: one plain GNU Makefile. Each variant builds in its own directory
# (build/release, build/asan), so sanitizer objects never mix with release ones.
#
#   make            build build/release/juggernautd
#   make run        install missing Debian packages, build, run on :8080 with the demo page
#   make test       install test dependencies, build, run unit + black-box tests
#   make unit       cmocka unit tests only
#   make example    start the Rails chat example (examples/rails-chat) and print its URL
#   make test-example  that example end to end in Chromium (two users, a SIGTERM'd instance)
#   make test-ruby  the Ruby client's minitest suite (clients/ruby)
#   make js-client  the npm package juggernautd-client in clients/js (dist/ from public/application.js)
#   make test-js-client  that package: npm pack contents, tsc on its declarations, import()
#   make asan       the daemon and unit tests under ASan+UBSan (build/asan)
#   make check-deps the one-way architecture: no upward include, no include circle, no .c over 600 lines
#   make check      black-box + browser suites against build/release
#   make check-asan black-box suite against the ASan build
#   make valgrind   unit tests under valgrind memcheck
#   make chaos      the cluster chaos tests CHAOS_RUNS times in a row (default 5)
#   make deps       print the apt-get line for building
#   make install    PREFIX=/usr/local DESTDIR=
#   make man        build/man/juggernautd.8 and juggernautd.conf.5 (scripts/gen-man.sh)
#   make deb        the Debian package in build/deb/ (built from a copy, checked by lintian)
#   make deb-check  make deb, then install it here, run it against a real Redis, purge it

PKGS      := hiredis jansson libcrypto libsodium liburing
# libev, wslay and http-parser ship no pkg-config file on Debian
LIBS_NOPC := -lev -lwslay -lhttp_parser -lm
# The daemon's allocator. jemalloc keeps no header per allocation: about a fifth less memory
# per idle connection than glibc's malloc, and bursts of small allocations cost less
# (bench/RESULTS.md). Only the daemon links it: the ASan build keeps ASan's allocator, the
# unit tests (and valgrind) and the fuzz harnesses libc's. MALLOC_LIB= builds without it.
MALLOC_LIB ?= -ljemalloc
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter
CFLAGS    ?= -O2 -g
CPPFLAGS  += -Isrc -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(LIBS_NOPC)
CMOCKA    := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
BUILD     ?= build/release
PREFIX    ?= /usr/local
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS  += -DJG_VERSION='"$(VERSION)"'

SRCS      := $(wildcard src/*/*.c)
OBJS      := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS)) $(BUILD)/lua_library.o $(BUILD)/usage.o \
             $(BUILD)/console_html.o
LIBOBJS   := $(filter-out $(BUILD)/app/main.o,$(OBJS))
UNIT      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

DEBIAN_BUILD_DEPS := build-essential pkg-config libev-dev libhiredis-dev libhttp-parser-dev \
                     libwslay-dev libjansson-dev libssl-dev libsodium-dev libcmocka-dev uthash-dev libjemalloc-dev liburing-dev \
                     redis-server
DEBIAN_TEST_DEPS  := $(DEBIAN_BUILD_DEPS) nodejs npm chromium haproxy valgrind curl clang libclang-rt-14-dev prometheus \
                     man-db groff-base ruby ruby-redis ruby-minitest
# the example chat (examples/rails-chat): Rails 6.1 and SQLite from Debian, no gem downloads
DEBIAN_EXAMPLE_DEPS := ruby ruby-redis ruby-rails ruby-sqlite3 puma sqlite3 redis-server haproxy \
                       chromium nodejs npm
# what `make deb` needs besides the build dependencies (debian/control lists those too)
DEBIAN_DEB_DEPS   := $(DEBIAN_BUILD_DEPS) debhelper dpkg-dev lintian man-db groff-base adduser

# quiet by default; make V=1 shows the commands
ifeq ($(V),1)
Q :=
else
Q := @
endif

all: $(BUILD)/juggernautd

$(BUILD)/juggernautd: $(OBJS)
	@echo "  LD   $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC_LIB)

# redis/juggernaut.lua goes into the binary as one C string (loaded into Redis at start)
$(BUILD)/lua_library.c: redis/juggernaut.lua scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed.sh jg_lua_library $< > $@

$(BUILD)/lua_library.o: $(BUILD)/lua_library.c
	@echo "  CC   $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# doc/usage.txt is --help and the OPTIONS/SIGNALS of juggernautd(8): one text for both
$(BUILD)/usage.c: doc/usage.txt scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed.sh jg_usage $< > $@

$(BUILD)/usage.o: $(BUILD)/usage.c
	@echo "  CC   $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# the admin console's page (admin/console.html, GET /console on the admin port)
$(BUILD)/console_html.c: admin/console.html scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed.sh jg_console_html $< > $@

$(BUILD)/console_html.o: $(BUILD)/console_html.c
	@echo "  CC   $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC   $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=c11 -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	@echo "  CC   $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(TEST_LDFLAGS) $(WARN) -std=c11 -o $@ $(filter %.c %.o,$^) $(LDLIBS) $(CMOCKA)

# test_cluster and test_claim_race replace the Redis broker with a fake bus at link time
FAKE_BUS  := -Wl,--wrap=jg_broker_command,--wrap=jg_broker_ready,--wrap=jg_broker_subscribed,--wrap=jg_broker_down_for
$(BUILD)/tests/test_cluster: TEST_LDFLAGS := $(FAKE_BUS),--wrap=jg_broker_start
$(BUILD)/tests/test_claim_race: TEST_LDFLAGS := $(FAKE_BUS)

unit: $(UNIT)
	@set -e; for t in $(UNIT); do echo "== $$t"; $$t; done

deps:
	@echo "apt-get install -y $(DEBIAN_BUILD_DEPS)"

install-deps:
	@sh scripts/install-deps.sh $(DEBIAN_BUILD_DEPS)

install-test-deps:
	@sh scripts/install-deps.sh $(DEBIAN_TEST_DEPS)
	@npm ci --no-audit --no-fund --loglevel=error

run: install-deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run-demo.sh $(BUILD)/juggernautd conf/juggernautd.conf

# The whole test run: the architecture's include rules (scripts/check-deps.sh), unit tests (release, ASan+UBSan, valgrind), the fuzz regression
# corpus and a 3 s fuzz run per harness, the black-box suite against the ASan+UBSan daemon (any sanitizer report fails
# it), and the browser suite against the release daemon.
test: install-test-deps
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory fuzz-regress
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory upgrade-from
	@$(MAKE) --no-print-directory check-asan
	@node scripts/run-tests.js --only browser
	@$(MAKE) --no-print-directory test-ruby
	@$(MAKE) --no-print-directory test-js-client

# the example chat (examples/rails-chat): Rails, Redis, two juggernautd, HAProxy
example: all
	@sh scripts/install-deps.sh $(DEBIAN_EXAMPLE_DEPS)
	@examples/rails-chat/bin/start

example-stop:
	@examples/rails-chat/bin/stop

# the example end to end in Chromium, on free ports
test-example: all
	@sh scripts/install-deps.sh $(DEBIAN_EXAMPLE_DEPS)
	@test -d node_modules || npm ci --no-audit --no-fund --loglevel=error
	@node --test --test-reporter=spec tests/example/rails-chat.test.js

# the Ruby client (clients/ruby): minitest against a real juggernautd and a real Redis
test-ruby: all
	@ruby -Iclients/ruby/lib -e 'Dir["clients/ruby/test/*_test.rb"].each { |f| require "./" + f }'

# the npm package juggernautd-client (clients/js): its dist/ is generated from
# public/application.js, the file the server serves, which stays the one source
js-client:
	@node clients/js/build.js

test-js-client: js-client
	@test -d node_modules || npm ci --no-audit --no-fund --loglevel=error
	@node --test --test-reporter=spec clients/js/test/package.test.js

# The previous release's daemon, for tests/integration/upgrade.test.js (a rolling upgrade of
# a cluster from it to this build): build/upgrade-from/juggernautd, built from git once.
UPGRADE_FROM_REV ?= 7e0d1b0
upgrade-from: build/upgrade-from/$(UPGRADE_FROM_REV)/juggernautd
	@ln -sf $(UPGRADE_FROM_REV)/juggernautd build/upgrade-from/juggernautd

build/upgrade-from/%/juggernautd:
	@git cat-file -e $*^{commit} 2>/dev/null || { echo "upgrade-from: revision $* is not in this clone's \
	history (a shallow clone? git fetch --unshallow), set UPGRADE_FROM_REV"; exit 1; }
	@rm -rf $(@D) && mkdir -p $(@D)/src
	@git archive --format=tar $* | tar -x -C $(@D)/src
	@echo "  BUILD juggernautd $* (upgrade-from)"
	$(Q)$(MAKE) --no-print-directory -C $(@D)/src build/release/juggernautd >$(@D)/build.log 2>&1 || \
	  { tail -20 $(@D)/build.log; exit 1; }
	@cp $(@D)/src/build/release/juggernautd $@ && rm -rf $(@D)/src

# black-box suite only (needs `make` first); JUGGERNAUTD_BIN picks the binary
check: all
	@node scripts/run-tests.js

# the cluster chaos tests CHAOS_RUNS times in a row (default 5); one run is part of make test
CHAOS_RUNS ?= 5
chaos: all
	@sh scripts/chaos.sh $(CHAOS_RUNS)

check-asan: asan
	@JUGGERNAUTD_BIN=build/asan/juggernautd node scripts/run-tests.js --only integration

valgrind: $(UNIT)
	@set -e; for t in $(UNIT); do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect $$t >/dev/null; done
	@echo "valgrind: unit tests clean"

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan LDFLAGS="-fsanitize=address,undefined" MALLOC_LIB= \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  all unit

# the one-way architecture (docs/ARCHITECTURE.md): includes only downward, no circle, small files
check-deps:
	@sh scripts/check-deps.sh

headers:
	@set -e; for h in src/*/*.h; do echo "#include \"$${h#src/}\"" | \
	  $(CC) $(CPPFLAGS) $(WARN) -std=c11 -fsyntax-only -x c -; done

# The installed config points public-dir at the shared files; an existing config is kept.
install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/juggernautd/public \
	  $(DESTDIR)$(PREFIX)/share/doc/juggernautd $(DESTDIR)/etc/juggernautd $(DESTDIR)/lib/systemd/system \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 build/man/juggernautd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 build/man/juggernautd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 755 $(BUILD)/juggernautd $(DESTDIR)$(PREFIX)/bin/juggernautd
	install -m 644 public/* $(DESTDIR)$(PREFIX)/share/juggernautd/public/
	install -m 644 README.md conf/haproxy.cfg conf/grafana-juggernautd.json $(DESTDIR)$(PREFIX)/share/doc/juggernautd/
	sed 's|/usr/local|$(PREFIX)|g' conf/juggernautd.service > $(DESTDIR)/lib/systemd/system/juggernautd.service
	test -e $(DESTDIR)/etc/juggernautd/juggernautd.conf || \
	  sed 's|^public-dir .*|public-dir $(PREFIX)/share/juggernautd/public|' conf/juggernautd.conf \
	    > $(DESTDIR)/etc/juggernautd/juggernautd.conf

# man pages: doc/usage.txt (= --help) + doc/juggernautd.8.in, and conf/juggernautd.conf's comments
man: build/man/juggernautd.8

build/man/juggernautd.8: scripts/gen-man.sh doc/usage.txt doc/juggernautd.8.in conf/juggernautd.conf VERSION
	$(Q)sh scripts/gen-man.sh build/man

deb:
	@sh scripts/install-deps.sh $(DEBIAN_DEB_DEPS)
	@sh scripts/build-deb.sh build/deb

# needs root: installs the package on this machine, runs it, purges it
deb-check: deb
	@sh scripts/install-deps.sh nodejs npm redis-server systemd man-db groff-base logrotate
	@test -d node_modules || npm ci --no-audit --no-fund --loglevel=error
	@node --test --test-reporter=spec tests/package/deb.test.js

clean:
	rm -rf build

.PHONY: upgrade-from check-deps chaos example example-stop test-example test-ruby all unit deps install-deps install-test-deps run test check check-asan valgrind asan headers install clean man deb deb-check js-client test-js-client
-include $(OBJS:.o=.d)
# libFuzzer harnesses: make fuzz FUZZ_SECONDS=N, make fuzz-regress and make fuzz-smoke (both in make test)
-include tests/fuzz/fuzz.mk
# benchmarks against Nchan and the kernel's ceiling: make bench-tools, make bench [QUICK=1]
-include bench/bench.mk
