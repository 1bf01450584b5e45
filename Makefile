# lamina: the top-level Makefile.
#
#   make            build the daemons, the CLI and the tools into build/
#   make check      install missing Debian packages, build with ASan+UBSan
#                   into build/check and run every unit and end-to-end test
#   make run        install missing packages, build, and run the demo
#   make bench      build optimised into build/release and run the benchmarks
#   make valgrind   run the unit tests under valgrind (no sanitizers)
#   make install    install binaries, config, units and man pages
#
# SANITIZE=address,undefined adds sanitizers to any build; BUILD=dir picks
# the output directory.  Dependencies come from -MMD.

BUILD		?= build
SANITIZE	?=
OPT		?= -O3
PREFIX		?= /usr/local
DESTDIR		?=

NPROC		:= $(shell nproc 2>/dev/null || echo 2)
PKGS		:= libevent libevent_pthreads sqlite3 msgpack yaml-0.1 \
		   libsystemd json-c zlib
TEST_PKGS	:= check

WARN		:= -Wall -Wextra -Wformat=2 -Wstrict-prototypes \
		   -Wmissing-prototypes -Wshadow -Wpointer-arith \
		   -Wsign-compare -Wcast-qual -Werror
CFLAGS		?= $(OPT) -g
ALL_CFLAGS	:= -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) \
		   -Icommon -MMD -MP \
		   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS		:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
TEST_CFLAGS	:= $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS	:= $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

ifneq ($(SANITIZE),)
ALL_CFLAGS	+= -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
LDFLAGS		+= -fsanitize=$(SANITIZE)
endif

# Link-time optimisation for every build but the sanitizer ones: the
# engine's calls from agg.c into the sketches (hll.c, ddsketch.c, topk.c,
# xsum.c) inline across files, 4-7% less CPU for a batch rebuild.  LTO=
# turns it off.
LTO		?= -flto=auto
ifeq ($(SANITIZE),)
ifneq ($(LTO),)
ALL_CFLAGS	+= $(LTO)
LDFLAGS		+= $(LTO) $(OPT)
AR		:= gcc-ar
endif
endif

# common/: every module of the shared library.
COMMON_SRCS	:= $(sort $(wildcard common/*.c))
COMMON_OBJS	:= $(COMMON_SRCS:%.c=$(BUILD)/%.o)
COMMON_LIB	:= $(BUILD)/libcommon.a

# The CLI.
CLI_SRCS	:= $(sort $(wildcard cli/*.c))
CLI_OBJS	:= $(CLI_SRCS:%.c=$(BUILD)/%.o)

# The daemons: one directory each, every .c file in it.
INGESTD_SRCS	:= $(sort $(wildcard daemons/ingestd/*.c))
INGESTD_OBJS	:= $(INGESTD_SRCS:%.c=$(BUILD)/%.o)
BATCHD_SRCS	:= $(sort $(wildcard daemons/batchd/*.c))
BATCHD_OBJS	:= $(BATCHD_SRCS:%.c=$(BUILD)/%.o)

# Unit tests: one Check suite per common/ module, tests/unit/test_<m>.c.
UNIT_SRCS	:= $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TESTLIB_SRCS	:= $(sort $(wildcard tests/unit/lib/*.c))
TESTLIB_OBJS	:= $(TESTLIB_SRCS:%.c=$(BUILD)/%.o)

# Benchmarks, and what they share.
BENCH_SRCS	:= $(sort $(wildcard bench/bench_*.c))
BENCHLIB_OBJS	:= $(BUILD)/bench/lib/benchlib.o
BENCH_BINS	:= $(BENCH_SRCS:bench/%.c=$(BUILD)/bin/%)

BINS		:= $(BUILD)/bin/lamina $(BUILD)/bin/lamina-ingestd \
		   $(BUILD)/bin/lamina-batchd

.SECONDARY:

.PHONY: all deps check check-build check-run run bench valgrind install \
	clean tests

all: $(BINS)

deps:
	@scripts/install-deps

# V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/lib/%.o: tests/unit/lib/%.c
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests/unit/lib -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(BUILD)/bin/lamina: $(CLI_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(COMMON_LIB) $(LIBS)

$(BUILD)/bin/lamina-ingestd: $(INGESTD_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(INGESTD_OBJS) $(COMMON_LIB) $(LIBS)

$(BUILD)/bin/lamina-batchd: $(BATCHD_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(BATCHD_OBJS) $(COMMON_LIB) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TESTLIB_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests/unit/lib $(LDFLAGS) -o $@ \
	    $< $(TESTLIB_OBJS) $(COMMON_LIB) $(TEST_LIBS) $(LIBS)

$(BUILD)/bench/lib/%.o: bench/lib/%.c
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Ibench/lib -c -o $@ $<

$(BUILD)/bin/bench_%: bench/bench_%.c $(BENCHLIB_OBJS) $(COMMON_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Ibench/lib $(LDFLAGS) -o $@ $< \
	    $(BENCHLIB_OBJS) $(COMMON_LIB) $(LIBS)

tests: $(BINS) $(UNIT_BINS)

# The README's test command.  Packages first, in their own make so that
# pkg-config sees them, then the sanitizer build and the runner.
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/check \
	    SANITIZE=address,undefined OPT=-O1 check-run

check-run: tests
	@tests/run $(BUILD)

run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@scripts/demo $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/release OPT=-O3 \
	    all $(BENCH_SRCS:bench/%.c=build/release/bin/%)
	@bench/run build/release

valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/valgrind OPT=-O1 tests
	@VALGRIND=1 tests/run build/valgrind unit

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/lamina
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	test -f $(DESTDIR)/etc/lamina/lamina.yaml || \
	    install -m 0644 conf/lamina.yaml $(DESTDIR)/etc/lamina/lamina.yaml

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
