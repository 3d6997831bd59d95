# pgcoalesce — plain GNU make.
#
#   make                 build bin/pgcoalesce, bin/pgcoalesce-cli and libpgcoalesce (bin/)
#   make run             install missing deps, build, run against a private PostgreSQL
#   make test            unit + integration tests against a real PostgreSQL
#   make deps            install missing Debian build/test dependencies
#   make install PREFIX=/usr/local [DESTDIR=...]   binaries, man pages, systemd unit,
#                        libpgcoalesce (.so, .a, pgcoalesce.h, pgcoalesce.pc)
#   make -s version      print the version
#   make SANITIZE=address,undefined   build with sanitizers (into build/san-*)
#   make WERROR=1        treat warnings as errors (CI)
#   make docker-test     build docker/Dockerfile with podman and test the container
#   make compose-check   validate docker/docker-compose.yml against compose-spec
#   make docker-base     (root) make the local debian:bookworm-slim base for podman

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
# uring.c tells memcheck about the bytes io_uring receives, where it can.
ifneq ($(wildcard /usr/include/valgrind/memcheck.h),)
CFLAGS  += -DHAVE_VALGRIND_MEMCHECK_H
endif

ifneq ($(WERROR),)
CFLAGS  += -Werror
endif

# Where `make install` puts things (see "install" below). SYSCONFDIR is also
# compiled into the CLI: it reads the installed daemon's config file for the
# socket (README "The CLI").
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/pgcoalesce
UNITDIR    ?= $(PREFIX)/lib/systemd/system
LDCONFIG   ?= ldconfig
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif

# Relink when the flavour (plain or sanitized) changes: the objects live apart.
$(shell mkdir -p build; [ "$$(cat build/flavor 2>/dev/null)" = "x$(SANITIZE)" ] || echo "x$(SANITIZE)" > build/flavor)
# Rebuild the CLI's main when SYSCONFDIR changes (make install PREFIX=/usr).
$(shell [ "$$(cat build/sysconfdir 2>/dev/null)" = "x$(SYSCONFDIR)" ] || echo "x$(SYSCONFDIR)" > build/sysconfdir)

ifneq ($(SANITIZE),)
BUILD   ?= build/san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build/obj
endif

# Modules shared by the daemon, the CLI, the client library and the tests.
COMMON_SRC := src/buf.c src/jsontext.c src/linebuf.c
DAEMON_MAIN := src/pgcoalesce.c
# libpgcoalesce, the C client library (src/pgc_*.c, public header
# include/pgcoalesce.h): its own modules plus the shared ones and the JSON
# tokenizer, compiled in, so an application links nothing but libc.
LIB_OWN_SRC := $(wildcard src/pgc_*.c)
LIB_SRC    := $(LIB_OWN_SRC) $(COMMON_SRC) src/jsontok.c
# The daemon: socket -> framing -> request -> group -> flush -> ack
# (every other src/*.c; see README "Code map").
DAEMON_SRC := $(filter-out $(COMMON_SRC) $(DAEMON_MAIN) $(LIB_OWN_SRC) $(wildcard src/cli_*.c),$(wildcard src/*.c))
CLI_SRC    := $(wildcard src/cli_*.c)
UNIT_SRC   := $(wildcard test/unit/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

DAEMON_OBJ := $(call obj,$(COMMON_SRC) $(DAEMON_SRC) $(DAEMON_MAIN))
CLI_OBJ    := $(call obj,$(COMMON_SRC) src/jsontok.c $(CLI_SRC))
# The unit tests drive the batch machine with scripted results: test/unit/fake_pgconn.c
# stands in for src/pgconn.c there (the integration tests run the real one).
UNIT_OBJ   := $(call obj,$(COMMON_SRC) $(filter-out src/pgconn.c,$(DAEMON_SRC)) $(LIB_OWN_SRC) \
                $(filter-out src/cli_main.c,$(CLI_SRC)) $(UNIT_SRC))
# the library's objects: position-independent, only the PGC_API functions visible
LIB_OBJ    := $(patsubst %.c,$(BUILD)/pic/%.o,$(LIB_SRC))

# The library's file names: the soname changes with the major version.
SOMAJOR    := $(firstword $(subst ., ,$(VERSION)))
LIB_SO     := libpgcoalesce.so.$(VERSION)
LIB_SONAME := libpgcoalesce.so.$(SOMAJOR)

# The CLI needs libev (bench) and readline; it reads the sidecar's answers
# through libpgcoalesce, so neither libpq nor libcjson.
CLI_LDLIBS := -lev -lm $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)

.PHONY: all lib clean test unit run deps install uninstall fuzz fuzz-replay bench profile \
        docker-test compose-check docker-base version
all: bin/pgcoalesce bin/pgcoalesce-cli lib
lib: bin/$(LIB_SO) bin/libpgcoalesce.a

bin/pgcoalesce: $(DAEMON_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# The CLI is the library's first user: it links the static library, which
# exports only the public API (pgcoalesce.h), like any application.
bin/pgcoalesce-cli: $(CLI_OBJ) bin/libpgcoalesce.a build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(CLI_LDLIBS)

$(BUILD)/src/cli_main.o: build/sysconfdir
$(BUILD)/src/cli_main.o: CFLAGS += -DPGC_SYSCONFDIR='"$(SYSCONFDIR)"'

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

bin/$(LIB_SO): $(LIB_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,defs -o $@ $(LIB_OBJ)
	ln -sf $(LIB_SO) bin/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) bin/libpgcoalesce.so

# One relocatable object whose hidden symbols (buf_init, jsontok_parse, ...)
# are made local, so the archive cannot clash with an application's names.
bin/libpgcoalesce.a: $(LIB_OBJ) build/flavor | bin
	ld -r -o $(BUILD)/pic/libpgcoalesce.o $(LIB_OBJ)
	objcopy --localize-hidden $(BUILD)/pic/libpgcoalesce.o
	rm -f $@
	ar rcs $@ $(BUILD)/pic/libpgcoalesce.o

bin/test-unit: $(UNIT_OBJ) build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS) $(CLI_LDLIBS)

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

test: deps all bin/test-unit bin/bench-ceiling bin/bench-ackfloor
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

# The I/O floor under the closed-loop figure: answers every line, no database.
bin/bench-ackfloor: test/bench/ackfloor.c build/flavor | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lev

# Preloaded into the PostgreSQL server, so never built with the sanitizers.
bin/slowfsync.so: test/bench/slowfsync.c | bin
	$(CC) -O2 -g -std=gnu11 $(WARN) $(if $(WERROR),-Werror) -D_GNU_SOURCE -fPIC -shared -o $@ $< -ldl

bench: deps all bin/bench-ceiling bin/bench-ackfloor bin/slowfsync.so
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
# paths), the example configuration, which also becomes the configuration
# the unit reads unless one is already there (never overwritten), and
# libpgcoalesce: the shared library (with its soname link and the .so link
# for linking), the static library, pgcoalesce.h and pgcoalesce.pc.
# ldconfig runs when installing into the live system (no DESTDIR) as root.
MANPAGES   := man/pgcoalesce.1 man/pgcoalesce-cli.1
MANPAGES3  := man/libpgcoalesce.3

# The directories install makes are recorded in INSTALLED_DIRS (only those
# that were not there before), so uninstall removes exactly those once empty.
INSTALLED_DIRS := $(DOCDIR)/installed-dirs
INSTALL_DIRS   := $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man3 $(UNITDIR) $(DOCDIR) $(SYSCONFDIR)/pgcoalesce \
                  $(LIBDIR) $(INCLUDEDIR) $(PKGCONFIGDIR)

install: all
	DESTDIR='$(DESTDIR)' scripts/install-dirs.sh create $(INSTALLED_DIRS) $(INSTALL_DIRS)
	install -m 0755 bin/pgcoalesce bin/pgcoalesce-cli $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MANPAGES3) $(DESTDIR)$(MANDIR)/man3/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		contrib/pgcoalesce.service.in > $(DESTDIR)$(UNITDIR)/pgcoalesce.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pgcoalesce.service
	install -m 0644 contrib/pgcoalesce.conf $(DESTDIR)$(DOCDIR)/pgcoalesce.conf.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf ] || \
		install -m 0644 contrib/pgcoalesce.conf $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf
	install -m 0755 bin/$(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIB_SO) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libpgcoalesce.so
	install -m 0644 bin/libpgcoalesce.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/pgcoalesce.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' contrib/pgcoalesce.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/pgcoalesce.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/pgcoalesce.pc
	[ -n "$(DESTDIR)" ] || [ "$$(id -u)" -ne 0 ] || $(LDCONFIG)

# `make uninstall` removes the configuration only if it is still the example,
# then every directory install made that is empty now: never one that was
# there before, never one that holds anything (a changed configuration keeps
# SYSCONFDIR/pgcoalesce).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgcoalesce $(DESTDIR)$(BINDIR)/pgcoalesce-cli
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MANPAGES3)))
	rm -f $(DESTDIR)$(UNITDIR)/pgcoalesce.service $(DESTDIR)$(DOCDIR)/pgcoalesce.conf.example
	! cmp -s contrib/pgcoalesce.conf $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/pgcoalesce/pgcoalesce.conf
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(LIB_SO) $(LIB_SONAME) libpgcoalesce.so libpgcoalesce.a)
	rm -f $(DESTDIR)$(INCLUDEDIR)/pgcoalesce.h $(DESTDIR)$(PKGCONFIGDIR)/pgcoalesce.pc
	[ -n "$(DESTDIR)" ] || [ "$$(id -u)" -ne 0 ] || $(LDCONFIG)
	DESTDIR='$(DESTDIR)' scripts/install-dirs.sh remove $(INSTALLED_DIRS)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
