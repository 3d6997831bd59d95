# pgcoalesce — plain GNU make.
#
#   make                 build bin/pgcoalesce and bin/pgcoalesce-cli
#   make run             install missing deps, build, run against a private PostgreSQL
#   make test            unit + integration tests against a real PostgreSQL
#   make deps            install missing Debian build/test dependencies
#   make install PREFIX=/usr/local [DESTDIR=...]   binaries, man pages, systemd unit
#   make SANITIZE=address,undefined   build with sanitizers (into build/san-*)
#   make WERROR=1        treat warnings as errors (CI)
#   make docker-test     build docker/Dockerfile with podman and test the container
#   make compose-check   validate docker/docker-compose.yml against compose-spec
#   make docker-base     (root) make the local debian:bookworm-slim base for podman
#   make -s version      print the version

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
SANITIZE  ?=
WERROR    ?=

PG_INCLUDE := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

WARN    := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wshadow -Wundef -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -Iinclude -I$(PG_INCLUDE) -DPGC_VERSION='"$(VERSION)"' \
           -D_GNU_SOURCE -MMD -MP
LDLIBS  := -lpq -lev -lcjson -lm

ifneq ($(WERROR),)
CFLAGS  += -Werror
endif

# Relink when the flavour (plain or sanitized) changes: the objects live apart.
$(shell mkdir -p build; [ "$$(cat build/flavor 2>/dev/null)" = "x$(SANITIZE)" ] || echo "x$(SANITIZE)" > build/flavor)

ifneq ($(SANITIZE),)
BUILD   ?= build/san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build/obj
endif

# Modules shared by the daemon, the CLI and the tests (client-side pieces).
COMMON_SRC := src/buf.c src/jsontext.c src/linebuf.c
DAEMON_MAIN := src/pgcoalesce.c
# The daemon: socket -> framing -> request -> group -> flush -> ack
# (every other src/*.c; see README "Code map").
DAEMON_SRC := $(filter-out $(COMMON_SRC) $(DAEMON_MAIN) $(wildcard src/cli_*.c),$(wildcard src/*.c))
CLI_SRC    := $(wildcard src/cli_*.c)
UNIT_SRC   := $(wildcard test/unit/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

DAEMON_OBJ := $(call obj,$(COMMON_SRC) $(DAEMON_SRC) $(DAEMON_MAIN))
CLI_OBJ    := $(call obj,$(COMMON_SRC) $(CLI_SRC))
# The unit tests drive the batch machine with scripted results: test/unit/fake_pgconn.c
# stands in for src/pgconn.c there (the integration tests run the real one).
UNIT_OBJ   := $(call obj,$(COMMON_SRC) $(filter-out src/pgconn.c,$(DAEMON_SRC)) \
                $(filter-out src/cli_main.c,$(CLI_SRC)) $(UNIT_SRC))

CLI_LDLIBS := $(LDLIBS) $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)

.PHONY: all clean test unit run deps install uninstall fuzz fuzz-replay bench profile \
        docker-test compose-check docker-base version
all: bin/pgcoalesce bin/pgcoalesce-cli

bin/pgcoalesce: $(DAEMON_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

bin/pgcoalesce-cli: $(CLI_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CLI_LDLIBS)

bin/test-unit: $(UNIT_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CLI_LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

bin:
	mkdir -p bin

# ---- fuzzing (issue: hostile input) ----
# `make fuzz` runs each libFuzzer target for FUZZ_SECONDS with clang; new
# interesting inputs land in test/fuzz/corpus/<target>/ (commit the good ones).
# `make fuzz-replay` (part of `make test`) replays the committed corpus with
# the normal compiler, so a crash found once stays fixed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := request sql json
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -std=gnu11 -Iinclude -I$(PG_INCLUDE) -DPGC_VERSION='"$(VERSION)"' -D_GNU_SOURCE
# the daemon's modules, and the CLI's SQL parser and its error display
FUZZ_LIB_SRC := $(COMMON_SRC) $(DAEMON_SRC) src/cli_sql.c src/cli_output.c

build/fuzz/fuzz-%: test/fuzz/fuzz_%.c $(FUZZ_LIB_SRC)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(LDLIBS)

fuzz: $(addprefix build/fuzz/fuzz-,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-print_final_stats=1 test/fuzz/corpus/$$t || exit 1; \
	done

bin/fuzz-replay-%: $(BUILD)/test/fuzz/fuzz_%.o $(BUILD)/test/fuzz/replay.o $(call obj,$(FUZZ_LIB_SRC)) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

fuzz-replay: $(addprefix bin/fuzz-replay-,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		printf 'fuzz corpus %s: ' $$t; bin/fuzz-replay-$$t test/fuzz/corpus/$$t/* || exit 1; \
	done

deps:
	@scripts/deps.sh

unit: bin/test-unit
	bin/test-unit

test: deps all bin/test-unit bin/bench-ceiling
	@BUILD=$(BUILD) test/run.sh

run: deps all
	@scripts/run.sh

# `make bench`: the sidecar vs direct per-row INSERTs (pgbench) vs client-side
# batches (bench-ceiling), side by side on one private PostgreSQL pinned to its
# own CPU, with rows/s, latency and CPU per row of PostgreSQL, the sidecar and
# the load generator; then again with 1 ms added to every fsync of the server
# (bin/slowfsync.so, LD_PRELOAD). Figures, not assertions.
# `make bench BENCH_SECONDS=1` is a quick smoke run (see scripts/bench.py).
bin/bench-ceiling: $(BUILD)/test/bench/ceiling.o $(BUILD)/src/buf.o build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $(filter %.o,$^) -lpq

# Preloaded into the PostgreSQL server, so never built with the sanitizers.
bin/slowfsync.so: test/bench/slowfsync.c | bin
	$(CC) -O2 -g -std=gnu11 $(WARN) $(if $(WERROR),-Werror) -D_GNU_SOURCE -fPIC -shared -o $@ $< -ldl

bench: deps all bin/bench-ceiling bin/slowfsync.so
	@scripts/bench.py $(BENCH_ARGS)

# `make profile`: the sidecar's own CPU per acked row (callgrind instructions).
profile: deps all
	@scripts/bench.py --profile

# ---- the container image (docker/): built and run with podman where it is
# installed (skipped otherwise); `make test` runs both checks too.
docker-test: deps
	@test/docker/run.py

compose-check:
	@scripts/compose-check.sh

docker-base:
	@scripts/podman-base.sh

# `make -s version`: the version, for the image's label (docker/Dockerfile's VERSION).
version:
	@echo $(VERSION)

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the two binaries, their man
# pages, the systemd unit (contrib/pgcoalesce.service.in with this PREFIX's
# paths) and the example configuration, which also becomes the configuration
# the unit reads unless one is already there (never overwritten).
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/pgcoalesce
UNITDIR    ?= $(PREFIX)/lib/systemd/system
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
MANPAGES   := man/pgcoalesce.1 man/pgcoalesce-cli.1

# The directories install makes are recorded in INSTALLED_DIRS (only those
# that were not there before), so uninstall removes exactly those once empty.
INSTALLED_DIRS := $(DOCDIR)/installed-dirs
INSTALL_DIRS   := $(BINDIR) $(MANDIR)/man1 $(UNITDIR) $(DOCDIR) $(SYSCONFDIR)/pgcoalesce

install: all
	DESTDIR='$(DESTDIR)' scripts/install-dirs.sh create $(INSTALLED_DIRS) $(INSTALL_DIRS)
	install -m 0755 bin/pgcoalesce bin/pgcoalesce-cli $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		contrib/pgcoalesce.service.in > $(DESTDIR)$(UNITDIR)/pgcoalesce.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pgcoalesce.service
	install -m 0644 contrib/pgcoalesce.conf $(DESTDIR)$(DOCDIR)/pgcoalesce.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf ] || \
		install -m 0644 contrib/pgcoalesce.conf $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf

# `make uninstall` removes the configuration only if it is still the example,
# then every directory install made that is empty now: never one that was
# there before, never one that holds anything (a changed configuration keeps
# SYSCONFDIR/pgcoalesce).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgcoalesce $(DESTDIR)$(BINDIR)/pgcoalesce-cli
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES)))
	rm -f $(DESTDIR)$(UNITDIR)/pgcoalesce.service $(DESTDIR)$(DOCDIR)/pgcoalesce.conf.example
	! cmp -s contrib/pgcoalesce.conf $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf
	DESTDIR='$(DESTDIR)' scripts/install-dirs.sh remove $(INSTALLED_DIRS)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
