# osteo - see README.md.  `make` builds bin/; `make check` and `make demo`
# first install missing Debian packages (tools/deps.sh).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
XCFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I.
PKGS = libpng libjpeg libarchive msgpack
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# oneDNN (no .pc file in Debian) runs on OpenMP; so do dnn.c's own passes
LDLIBS = $(PKG_LIBS) -ldnnl -lgomp -lcsv -lm
# DICOM: GDCM (C++, no .pc file in Debian) behind common/dicom/gdcm.cc, a
# library of its own that osteo-decode's DICOM worker loads when the first
# DICOM file comes (lib/osteo/libosteo-gdcm.so; installed beside bin/ as
# $(BINDIR)/../lib/osteo), so a run without DICOM does not pay GDCM's start;
# OpenSSL's libcrypto for --pseudonymize's HMAC-SHA256
CXX ?= c++
XCXXFLAGS = -std=gnu++17 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I.
# (-isystem: warnings in GDCM's own headers are not ours to mend)
GDCM_CFLAGS = -isystem /usr/include/gdcm-3.0
GDCM_LIBS = -lgdcmMSFF -lgdcmDSED -lgdcmDICT -lgdcmCommon -lstdc++
DICOM_LIBS = $(GDCM_LIBS) -lcrypto
GDCM_SO = lib/osteo/libosteo-gdcm.so

# The CUDA backend: built when nvcc is on PATH or under CUDA_HOME, and the
# runtime and cuBLAS are found where nvcc itself links from (nvcc may be a
# symlink or wrapper outside the toolkit), unless GPU=0.
GPU ?= auto
CUDA_HOME ?= /usr/local/cuda
NVCC := $(if $(filter 0,$(GPU)),,$(realpath $(or $(shell command -v nvcc 2>/dev/null),$(wildcard $(CUDA_HOME)/bin/nvcc))))
CUDA_ARCH ?= -arch=sm_90
# --fmad=false: the kernels are bound by memory, so FMA contraction buys
# nothing, and without it each does its twin's float arithmetic (the CPU's
# reference layers, common/nn.c) exactly, but for Adam, which nn.c
# vectorises per CPU and may fuse
NVCCFLAGS ?= -O2 $(CUDA_ARCH) --fmad=false -Xcompiler -Wall,-Wextra -Werror all-warnings
ifneq ($(NVCC),)
NVCC_LIBDIRS := $(filter-out %/stubs,$(patsubst -L%,%,$(shell $(NVCC) --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^\#\$$ LIBRARIES=//p' | tr -d '"')))
CUDA_LIBDIRS = $(NVCC_LIBDIRS) $(dir $(NVCC))../lib64 $(dir $(NVCC))../lib $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib /usr/lib/x86_64-linux-gnu
CUDA_LIBDIR ?= $(firstword $(foreach d,$(CUDA_LIBDIRS),$(if $(and $(wildcard $(d)/libcublas.so),$(wildcard $(d)/libcudart.so)),$(d))))
ifeq ($(CUDA_LIBDIR),)
GPU_MISSING = nvcc is $(NVCC) but libcudart/libcublas were not found (set CUDA_LIBDIR)
NVCC :=
endif
endif
ifneq ($(NVCC),)
GPU_OBJS = build/gpu/device.o build/gpu/nn.o build/gpu/net.o $(ENGINE_OBJS)
GPU_LIBS = -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublas -lcudart -lstdc++
else
GPU_OBJS = build/gpu/nogpu.o $(ENGINE_OBJS)
GPU_LIBS =
endif

# MPI (osteo-train --mpi, engine/dist.c): Open MPI where pkg-config finds
# it (Debian's libopenmpi-dev), unless MPI=0; without it --mpi exits 69
MPI ?= auto
HAVE_MPI := $(if $(filter 0,$(MPI)),,$(shell pkg-config --exists ompi-c 2>/dev/null && echo 1))
MPI_CFLAGS = $(if $(HAVE_MPI),-DOSTEO_MPI $(shell pkg-config --cflags ompi-c))
MPI_LIBS = $(if $(HAVE_MPI),$(shell pkg-config --libs ompi-c))
# (-O3 as the engine's: its loops over every gradient value vectorised; no
# FMA contraction, so the rounding onto the grid is the same on every CPU)
build/engine/dist.o: XCFLAGS += $(MPI_CFLAGS) -ffp-contract=off

# libosteo.a: common/'s folders and the network's spec, reference layers
# and oneDNN path (engine/); engine.c and device.c, which pick a backend,
# are linked with gpu/'s objects (or its stub) into the programs that run
# the network.  Every include is written from the root (-I.): a file's
# folder is in its path.
COMMON_SRCS = $(sort $(filter-out common/onnx/%,$(wildcard common/*/*.c)))
NET_SRCS = engine/spec/net.c $(sort $(wildcard engine/ref/*.c engine/cpu/*.c))
LIB_OBJS = $(COMMON_SRCS:%.c=build/%.o) $(NET_SRCS:%.c=build/%.o)
ENGINE_OBJS = build/engine/engine.o build/engine/device.o
HDRS = $(wildcard common/*/*.h engine/*.h engine/*/*.h engine/cpu/kern.inc gpu/*.h)
PROGS = osteo-decode osteo-dump osteo-synth osteo-normalize osteo-split osteo-augment osteo-fuse osteo-train osteo-infer osteo-gpuinfo osteo-metrics osteo-baseline osteo-plot osteo-cat osteo-onnx osteo-sr
GPU_PROGS = osteo-gpuinfo osteo-train osteo-infer
BINS = $(PROGS:%=bin/%)
MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)

all: $(BINS) $(GDCM_SO) gpu-note

gpu-note:
	@$(if $(NVCC),true,echo "osteo: $(or $(GPU_MISSING),nvcc not found (or GPU=0)): the CUDA backend is not built; programs run on the CPU")

build/common/%.o: common/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# the reference layers and the fused passes: OpenMP threads over the
# batch, loops vectorised
build/engine/%.o: engine/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) $(if $(filter engine/ref/% engine/cpu/% engine/dist.c,$<),-fopenmp -fno-math-errno -Wno-psabi $(DNN_OPT)) $(PKG_CFLAGS) -c -o $@ $<
DNN_OPT = $(if $(findstring -O0,$(CFLAGS)),,-O3)
# the fused passes: no FMA contraction.  GCC contracts a product into a sum
# in some inlined copies of an expression and not in others, so the first
# layer's convolution gave two windows of one flat region sums a unit in
# the last place apart, near-ties every row of a padded image had to settle
# (kern.inc's bn_relu_select16); the passes are bound by memory, and each
# sum now rounds alike wherever it is made
build/engine/cpu/kern.o: XCFLAGS += -ffp-contract=off

# a DICOM frame's values: loops the compiler vectorises at -O3
build/common/dicom/dicom.o: XCFLAGS += $(DNN_OPT)

build/common/dicom/gdcm.o: common/dicom/gdcm.cc common/dicom/dicom.h
	@mkdir -p $(@D)
	$(CXX) $(XCXXFLAGS) $(CFLAGS) $(GDCM_CFLAGS) -fPIC -c -o $@ $<

# (with osteo's own RLE decoder, which gdcm.cc calls)
build/pic/rle.o: common/dicom/rle.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

$(GDCM_SO): build/common/dicom/gdcm.o build/pic/rle.o
	@mkdir -p $(@D)
	$(CXX) $(CFLAGS) $(LDFLAGS) -shared -Wl,--no-undefined -o $@ $^ $(GDCM_LIBS)

# osteo-sr: DICOM objects written by dcmtk (dcmsr for the report, dcmdata
# for the heat maps) behind common/dicom/sr.cc; only osteo-sr links it
DCMTK_LIBS = -ldcmsr -ldcmimgle -ldcmdata -loflog -lofstd -lstdc++
build/common/dicom/sr.o: common/dicom/sr.cc common/dicom/sr.h
	@mkdir -p $(@D)
	$(CXX) $(XCXXFLAGS) $(CFLAGS) -c -o $@ $<
bin/osteo-sr: build/filters/osteo-sr.o build/common/dicom/sr.o build/libosteo.a | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/common/dicom/sr.o build/libosteo.a $(LDLIBS) $(DCMTK_LIBS)

# ONNX: onnx.proto as Debian's libonnx-dev ships it, compiled by protoc-c
# into build/gen (protobuf-c's structs and packer); only osteo-onnx links it
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ONNX_OBJS = build/gen/onnx.pb-c.o build/common/onnx/export.o build/common/onnx/import.o
build/gen/onnx.pb-c.c build/gen/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p build/gen
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=build/gen $(ONNX_PROTO)
build/gen/onnx.pb-c.o: build/gen/onnx.pb-c.c build/gen/onnx.pb-c.h
	$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<
build/common/onnx/export.o build/common/onnx/import.o: build/gen/onnx.pb-c.h
bin/osteo-onnx: build/filters/osteo-onnx.o $(ONNX_OBJS) build/libosteo.a | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ONNX_OBJS) build/libosteo.a $(LDLIBS) -lprotobuf-c

# the CUDA backend's stand-in when it is not built: "no device"
build/gpu/nogpu.o: gpu/nogpu.c $(HDRS) | build/gpu
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/filters/%.o: filters/%.c $(HDRS) | build/filters
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/gpu/%.o: gpu/%.cu $(HDRS) | build/gpu
	$(NVCC) $(NVCCFLAGS) -I. -c -o $@ $<

build/libosteo.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

bin/%: build/filters/%.o build/libosteo.a | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libosteo.a $(LDLIBS)

$(GPU_PROGS:%=bin/%): bin/%: build/filters/%.o build/libosteo.a $(GPU_OBJS) | bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PROG_OBJS) $(GPU_OBJS) build/libosteo.a $(LDLIBS) $(GPU_LIBS)

bin/osteo-baseline: LDLIBS += -lsvm -lxgboost
# osteo-synth draws its patients on every core
build/filters/osteo-synth.o: XCFLAGS += -fopenmp
bin/osteo-decode: LDLIBS += -lcrypto
bin/osteo-fuse: LDLIBS += -lcrypto
bin/osteo-infer build/emu/bin/osteo-infer: LDLIBS += -lcrypto
bin/osteo-train build/emu/bin/osteo-train: build/engine/dist.o
bin/osteo-train build/emu/bin/osteo-train: PROG_OBJS = build/engine/dist.o
bin/osteo-train build/emu/bin/osteo-train: LDLIBS += $(MPI_LIBS)

bin build/filters build/gpu build/tests:
	mkdir -p $@

# ---------------------------------------------------------------- tests

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
UNIT_SRCS = $(wildcard tests/unit/*.c)

# Debian's static libcheck has its own emalloc/erealloc with the same
# contract as ours (die on failure); the linker keeps ours for both.
# (the engine on the CPU: its GPU backend is the stand-in, "no device")
build/tests/unit: $(UNIT_SRCS) tests/unit/*.h build/libosteo.a $(ENGINE_OBJS) build/gpu/nogpu.o | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(UNIT_SRCS) $(ENGINE_OBJS) build/gpu/nogpu.o build/libosteo.a $(LDLIBS) -lxgboost \
		$(CHECK_LIBS) -Wl,--allow-multiple-definition

# the CUDA layers against the CPU's (skips, exit 77, without a device)
build/tests/gpu-check: tests/gpu/check_gpu.c $(GPU_OBJS) build/libosteo.a | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(GPU_OBJS) build/libosteo.a $(LDLIBS) \
		$(CHECK_LIBS) $(GPU_LIBS) -Wl,--allow-multiple-definition

# the CUDA backend compiled for the CPU with the stand-in runtime of
# tests/gpu/emu, so its kernels and plumbing are tested on every machine
EMU_OBJS = build/emu/nn.o build/emu/net.o build/emu/device.o $(ENGINE_OBJS)
# (with make check-asan's sanitizers, which then see the kernels' accesses)
EMU_CXXFLAGS = -std=c++20 -O1 -g -Wall -Wextra -Wno-unused-parameter -Itests/gpu/emu -I. -DTHREADS=32 \
	$(filter -fsanitize% -fno-sanitize% -fno-omit-frame-pointer,$(CFLAGS))
EMU_BINS = build/emu/bin/osteo-train build/emu/bin/osteo-infer build/emu/bin/osteo-gpuinfo
# every fuzz harness, built as a replayer of its corpus for make test
# (set before the test rule: make expands a rule's prerequisites as it reads it)
FUZZ_ALL = record model decode dicom archive csv arch options onnx
REPLAY_BINS = $(FUZZ_ALL:%=build/tests/replay_%)

$(filter build/emu/%,$(EMU_OBJS)): build/emu/%.o: gpu/%.cu $(HDRS) tests/gpu/emu/*.h | build/emu/bin
	$(CXX) $(EMU_CXXFLAGS) $(PKG_CFLAGS) -x c++ -c -o $@ $<

build/emu/gpu-check: tests/gpu/check_gpu.c $(EMU_OBJS) build/libosteo.a
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(EMU_OBJS) build/libosteo.a $(LDLIBS) \
		$(CHECK_LIBS) -lstdc++ -Wl,--allow-multiple-definition

$(EMU_BINS): build/emu/bin/%: build/filters/%.o $(EMU_OBJS) build/libosteo.a | build/emu/bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PROG_OBJS) $(EMU_OBJS) build/libosteo.a $(LDLIBS) -lstdc++

build/emu/bin:
	mkdir -p $@

build/tests/mkrec: tests/mkrec.c build/libosteo.a | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< build/libosteo.a $(LDLIBS)

# make bench's GPU figures (bench/run.sh runs it where there is a device)
build/tests/gpu-bench: bench/gpu-bench.c bench/bench.h $(GPU_OBJS) build/libosteo.a | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(GPU_OBJS) build/libosteo.a $(LDLIBS) $(GPU_LIBS)

# make bench's CPU figures
build/tests/cpu-bench: bench/cpu-bench.c bench/bench.h $(GPU_OBJS) build/libosteo.a | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(GPU_OBJS) build/libosteo.a $(LDLIBS) $(GPU_LIBS)

build/tests/png-loop: bench/png-loop.c | build/tests
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

build/tests/gdcm-loop: bench/gdcm-loop.cc | build/tests
	$(CXX) $(XCXXFLAGS) $(CFLAGS) $(GDCM_CFLAGS) -o $@ $< -lgdcmMSFF -lgdcmDSED -lgdcmCommon

deps:
	@tools/deps.sh build

check:
	@tools/deps.sh check
	@$(MAKE) --no-print-directory test

# program tests run TEST_JOBS at a time (one per core)
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: all build/tests/unit build/tests/mkrec $(REPLAY_BINS) $(if $(NVCC),build/tests/gpu-check) build/emu/gpu-check $(EMU_BINS)
	@echo "== unit tests (Check; the death tests print their expected errors)"
	@cd tests && ../build/tests/unit
	@echo "== program tests"
	@OSTEO_TEST_JOBS=$(TEST_JOBS) tests/run-shell.sh
	@echo "== man pages"
	@mandoc -Tlint -W warning $(MAN1) $(MAN5) $(MAN7) && echo "mandoc -Tlint: clean"

# the whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer,
# in a copy of the tree under build/asan so bin/ stays an ordinary build.
# Leak checking is off: a program that dies with a documented status leaves
# its buffers to the kernel by design, and LeakSanitizer would change the
# status every error test asserts.
COPY_TREE = tar -cf - --exclude=./build --exclude=./bin --exclude=./demo --exclude=./.git .
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan:
	@tools/deps.sh check
	rm -rf build/asan && mkdir -p build/asan
	$(COPY_TREE) | tar -xf - -C build/asan
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) --no-print-directory -C build/asan test GPU=0 CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)"

# libFuzzer harnesses (clang) for every parser of outside input, built
# with ASan and UBSan; `make fuzz FUZZ_TIME=600` runs each that long,
# FUZZ_TARGETS picks some.  See tests/fuzz/README.
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_CXX ?= clang++
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_FLAGS = -g -O1 $(SANITIZE) -fsanitize=fuzzer-no-link
# (gdcm.o linked in: the harnesses read DICOM without lib/osteo's library)
FUZZ_OBJS = $(LIB_OBJS:build/%=build/fuzz/%) build/fuzz/common/dicom/gdcm.o $(ONNX_OBJS:build/%=build/fuzz/%) \
	$(ENGINE_OBJS:build/%=build/fuzz/%) build/fuzz/gpu/nogpu.o

build/fuzz/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(XCFLAGS) -Werror $(if $(filter engine/%,$<),-Wno-psabi) $(FUZZ_FLAGS) $(PKG_CFLAGS) -c -o $@ $<

# (UBSan's vptr and function checks need its C++ runtime; the harnesses link as C)
build/fuzz/common/dicom/gdcm.o: common/dicom/gdcm.cc common/dicom/dicom.h
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(XCXXFLAGS) -Werror $(FUZZ_FLAGS) -fno-sanitize=vptr,function $(GDCM_CFLAGS) -c -o $@ $<

# protoc-c's generated code, without -Werror: its warnings are not ours
build/fuzz/gen/onnx.pb-c.o: build/gen/onnx.pb-c.c build/gen/onnx.pb-c.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(XCFLAGS) $(FUZZ_FLAGS) -c -o $@ $<
build/fuzz/common/onnx/export.o build/fuzz/common/onnx/import.o: build/gen/onnx.pb-c.h

FUZZ_WRAP = -Wl,--wrap=fopen,--wrap=fclose,--wrap=rec_reader_new,--wrap=rec_reader_free
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/*.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(XCFLAGS) -Werror $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJS) $(LDLIBS) $(DICOM_LIBS) -lxgboost -lprotobuf-c \
		$(FUZZ_WRAP)

# every harness again with the ordinary compiler and a main() that runs
# the files it is given (tests/fuzz/replay.c): make check replays the
# committed corpora through them (tests/shell/fuzz-replay.sh)
build/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/*.h build/libosteo.a build/common/dicom/gdcm.o $(ONNX_OBJS) $(ENGINE_OBJS) build/gpu/nogpu.o | build/tests
	$(CC) $(XCFLAGS) -Werror $(CFLAGS) $(PKG_CFLAGS) -o $@ $< tests/fuzz/replay.c $(ENGINE_OBJS) build/gpu/nogpu.o \
		build/common/dicom/gdcm.o $(ONNX_OBJS) build/libosteo.a $(LDLIBS) $(DICOM_LIBS) -lxgboost -lprotobuf-c $(FUZZ_WRAP)

fuzz-build:
	@tools/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_TARGETS)

# the program tests with every osteo program run under valgrind memcheck,
# in a GPU=0 copy of the tree under build/valgrind (the CUDA libraries
# alone cost valgrind seconds per process).  A memcheck error makes the
# program exit 98, which fails its test, and is kept in
# build/valgrind/*.log.  learning and demo are left out by default: they
# train for minutes on the code train-infer and pipeline-train already run
# (VALGRIND_TESTS='*' takes them too); so are gpu, which needs a device
# (compute-sanitizer is its memcheck), and gpu-emu, whose kernels make
# check-asan checks.  Valgrind cannot run AVX-512 code; the CPU it
# emulates says so, and oneDNN and kern.c choose their AVX2 code there.
VALGRIND_TESTS ?= $(filter-out learning demo gpu gpu-emu,$(patsubst tests/shell/%.sh,%,$(wildcard tests/shell/*.sh)))
VG = build/valgrind
check-valgrind:
	@tools/deps.sh valgrind
	rm -rf $(VG) && mkdir -p $(VG)/tree $(VG)/bin
	$(COPY_TREE) | tar -xf - -C $(VG)/tree
	$(MAKE) --no-print-directory -C $(VG)/tree GPU=0 all build/tests/mkrec >/dev/null
	for p in $(PROGS); do \
		printf '#!/bin/sh\nexec valgrind -q --error-exitcode=98 --leak-check=no --suppressions=%s --log-file=%s/%s.%%p.log %s "$$@"\n' \
			$(CURDIR)/tests/valgrind.supp $(CURDIR)/$(VG) $$p $(CURDIR)/$(VG)/tree/bin/$$p >$(VG)/bin/$$p; \
		chmod +x $(VG)/bin/$$p; \
	done
	OSTEO_WRAP=$(CURDIR)/$(VG)/bin OSTEO_TEST_JOBS=$(TEST_JOBS) \
		$(VG)/tree/tests/run-shell.sh $(foreach t,$(VALGRIND_TESTS),'$(t)')
	@bad=$$(find $(VG) -maxdepth 1 -name '*.log' -size +0 | sort); \
	if [ -n "$$bad" ]; then echo "valgrind found errors:"; head -n 40 $$bad; exit 1; fi; \
	echo "valgrind: no errors in $$(ls $(VG)/*.log | wc -l) program runs"

demo:
	@tools/deps.sh demo
	@$(MAKE) --no-print-directory all
	@pipelines/demo.sh

bench:
	@tools/deps.sh bench
	@$(MAKE) --no-print-directory all build/tests/png-loop build/tests/gdcm-loop build/tests/cpu-bench $(if $(NVCC),build/tests/gpu-bench)
	@bench/run.sh

# how good the demo's models are, over seeds (bench/models.sh; README)
# bench/auto.sh's real images come from scikit-learn's and scikit-image's
# packages (tools/deps.sh bench)
models:
	@tools/deps.sh bench
	@$(MAKE) --no-print-directory all
	@bench/models.sh
	@bench/auto.sh

COMPDIR ?= $(PREFIX)/share/bash-completion/completions
DATADIR ?= $(PREFIX)/share/osteo
PIPELINES = pipelines/prep.mk pipelines/train.mk pipelines/apply pipelines/nightly pipelines/nightly-pacs pipelines/dicom2rec pipelines/shard.sh pipelines/demo.sh pipelines/defaults.sh

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(COMPDIR) $(DESTDIR)$(DATADIR)/pipelines
	cp $(BINS) $(DESTDIR)$(BINDIR)/
	mkdir -p $(DESTDIR)$(BINDIR)/../lib/osteo
	cp $(GDCM_SO) $(DESTDIR)$(BINDIR)/../lib/osteo/
	cp $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	cp $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	cp $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	cp $(PIPELINES) $(DESTDIR)$(DATADIR)/pipelines/
	mkdir -p $(DESTDIR)$(DATADIR)/pipelines/slurm
	cp pipelines/slurm/submit pipelines/slurm/*.sbatch $(DESTDIR)$(DATADIR)/pipelines/slurm/
	cp completion/osteo.bash $(DESTDIR)$(COMPDIR)/osteo
	for p in $(PROGS); do ln -sf osteo $(DESTDIR)$(COMPDIR)/$$p; done
	cp -R examples $(DESTDIR)$(DATADIR)/

clean:
	rm -rf bin build lib

.PHONY: all gpu-note deps check check-asan check-valgrind test demo bench models install clean fuzz fuzz-build
.DELETE_ON_ERROR:
.SECONDARY:
