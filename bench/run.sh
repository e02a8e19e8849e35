#!/bin/bash
# make bench: speed and memory of the osteo programs against a reference run
# in the same invocation.  Prints a table; quote the medians and ratios.
#   bench/run.sh [runs [gpu|resnet|mpi]]   (gpu: the GPU figures alone, for a lent
#                            GPU machine; resnet: ResNet-18's on the CPU alone;
#                            mpi: osteo-train --mpi's alone)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/bin:$PATH"
runs=${1:-${RUNS:-5}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
# seconds for one run of "$@", output discarded
secs() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); echo "$t1 - $t0" | bc -l; }
# peak resident memory in MiB of one run of "$@"
peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'; }

# ---- MPI: osteo-train --mpi at 2 ranks of T/2 threads against 1 rank of
# T threads on this machine (what sharing a batch among ranks and the
# exact reduction cost), and against osteo-train without MPI at T threads
# (whole batches, as a user runs it): the images/s of epochs 2 to 4 (its
# log) on the prepared cohort $1, 128x128, batch 32, micro-batches of 16
# (the default), rounds interleaved, medians.  mpirun binds 2 ranks to a
# core each (its default), a lone rank to none.
mpi_bench() {
	local c=$1 T h=$(( $(nproc) / 2 )) A r
	T=$(nproc)
	[ $h -ge 1 ] || { echo "MPI: one core - no figures"; return 0; }
	if ! command -v mpirun >/dev/null || ! ldd "$top/bin/osteo-train" | grep -q libmpi; then
		echo "MPI: no mpirun, or osteo-train built without Open MPI - no figures"
		return 0
	fi
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	A="-q --epochs 4 --batch 32 --patience 0 -o $work/mpi.rec --log $work/mpi.tsv"
	ips() { awk -F'\t' 'NR > 2 { s += $8; n++ } END { printf "%.1f\n", s / n }' "$work/mpi.tsv"; }
	: >"$work/mpi.whole"; : >"$work/mpi.one"; : >"$work/mpi.two"
	for r in $(seq "$runs"); do
		OMP_NUM_THREADS=$T osteo-train $A "$c" && ips >>"$work/mpi.whole"
		mpirun --bind-to none -np 1 -x OMP_NUM_THREADS=$T osteo-train $A --mpi --micro-batch 16 "$c" &&
			ips >>"$work/mpi.one"
		mpirun -np 2 -x OMP_NUM_THREADS=$h osteo-train $A --mpi --micro-batch 16 "$c" && ips >>"$work/mpi.two"
	done
	local w o t
	w=$(median <"$work/mpi.whole") o=$(median <"$work/mpi.one") t=$(median <"$work/mpi.two")
	printf '%-58s %8s\n' "osteo-train, 128x128, batch 32, $T cores" "train/s"
	printf '%-58s %8.0f\n' "whole batches, 1 process x $T threads (no MPI)" "$w"
	printf '%-58s %8.0f\n' "--mpi --micro-batch 16, 1 rank x $T threads" "$o"
	printf '%-58s %8.0f\n' "--mpi --micro-batch 16, 2 ranks x $h threads" "$t"
	printf '  ratio 2 ranks x %d / 1 rank x %d threads: %.2f (target >= 0.9); against whole batches without MPI: %.2f\n' \
		"$h" "$T" "$(echo "$t / $o" | bc -l)" "$(echo "$t / $w" | bc -l)"
}

# what was measured on: the date, the CPU and the instructions the figures
# depend on (AVX-512 for the engine's passes, AVX512_BF16 or AMX for bf16)
echo "osteo bench, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
	"$(for f in avx512f avx512_bf16 amx_bf16; do grep -qw $f /proc/cpuinfo && printf '%s ' $f; done)"
echo

if [ "${2:-}" = mpi ]; then
	make -s -f "$top/pipelines/prep.mk" OUT="$work/prep" N="${BENCH_N:-1000}" SEED=1 SIZE=128x128 COPIES=0 >/dev/null 2>&1
	mpi_bench "$work/prep/train.fused.rec"
	exit 0
fi

if [ "${2:-}" != gpu ]; then
if [ "${2:-}" != resnet ]; then
# ---- decode: 1,000 128x128 PNGs, osteo-decode against a bare libpng loop
osteo-synth -q -n 1000 --images 1 --size 128x128 --seed 1 -o "$work/png"
mapfile -t files < <(find "$work/png" -name '*.png' | sort)
nfiles=${#files[@]}
bytes=$("$top/build/tests/png-loop" "${files[@]}" | awk '{ print $3 }')
insize=$(du -cb "${files[@]}" | tail -n 1 | cut -f 1)
cat "${files[@]}" >/dev/null
: >"$work/ref" ; : >"$work/osteo"
for i in $(seq "$runs"); do
	secs "$top/build/tests/png-loop" "${files[@]}" >>"$work/ref"
	secs osteo-decode -q "$work/png" >>"$work/osteo"
done
ref=$(median <"$work/ref")
ost=$(median <"$work/osteo")
mem=$(peak osteo-decode -q "$work/png")
printf '%-34s %8s %10s %10s %10s %8s\n' "decode ($nfiles PNG, 128x128)" "median s" "records/s" "MB/s out" "MB/s in" "peak MiB"
printf '%-34s %8.3f %10.0f %10.1f %10.1f %8s\n' "libpng loop (reference)" "$ref" \
	"$(echo "$nfiles / $ref" | bc -l)" "$(echo "$bytes / $ref / 1000000" | bc -l)" "$(echo "$insize / $ref / 1000000" | bc -l)" "-"
printf '%-34s %8.3f %10.0f %10.1f %10.1f %8s\n' "osteo-decode DIR > /dev/null" "$ost" \
	"$(echo "$nfiles / $ost" | bc -l)" "$(echo "$bytes / $ost / 1000000" | bc -l)" "$(echo "$insize / $ost / 1000000" | bc -l)" "$mem"
printf 'ratio osteo-decode / libpng loop: %.3f (target <= 1.10), over %d runs each\n' "$(echo "$ost / $ref" | bc -l)" "$runs"

# ---- DICOM: 1,000 256x256 CT slices, a third each uncompressed, JPEG
# lossless and JPEG 2000 (bench/dicom-files.sh), osteo-decode against a bare
# GDCM read loop, and against the dcmtk script (bench/dicom2rec-dcmtk, what
# pipelines/dicom2rec was) on the uncompressed third, all it can read
echo
"$top/bench/dicom-files.sh" "$work/dcm" 1000
mapfile -t dfiles < <(find "$work/dcm" -name '*.dcm' | sort)
mapfile -t rfiles < <(find "$work/dcm/raw" -name '*.dcm' | sort)
nd=${#dfiles[@]} nr=${#rfiles[@]}
dbytes=$("$top/build/tests/gdcm-loop" "${dfiles[@]}" | awk '{ print $3 }')
cat "${dfiles[@]}" >/dev/null
: >"$work/dref" ; : >"$work/dost" ; : >"$work/rost"
for i in $(seq "$runs"); do
	secs "$top/build/tests/gdcm-loop" "${dfiles[@]}" >>"$work/dref"
	secs osteo-decode -q "$work/dcm" >>"$work/dost"
	secs osteo-decode -q "$work/dcm/raw" >>"$work/rost"
done
dref=$(median <"$work/dref") dost=$(median <"$work/dost") rost=$(median <"$work/rost")
dmem=$(peak osteo-decode -q "$work/dcm")
# the dcmtk script once: a process or two per file
dcmtk=$(secs "$top/bench/dicom2rec-dcmtk" "$work/dcm/raw")
printf '%-34s %8s %10s %10s %8s\n' "DICOM ($nd files: raw, JPEG-LL, J2K)" "median s" "records/s" "MB/s out" "peak MiB"
printf '%-34s %8.3f %10.0f %10.1f %8s\n' "GDCM read loop (reference)" "$dref" \
	"$(echo "$nd / $dref" | bc -l)" "$(echo "$dbytes / $dref / 1000000" | bc -l)" "-"
printf '%-34s %8.3f %10.0f %10.1f %8s\n' "osteo-decode DIR > /dev/null" "$dost" \
	"$(echo "$nd / $dost" | bc -l)" "$(echo "$dbytes / $dost / 1000000" | bc -l)" "$dmem"
printf '%-34s %8.3f %10.0f\n' "  uncompressed third ($nr files)" "$rost" "$(echo "$nr / $rost" | bc -l)"
printf '%-34s %8.3f %10.0f\n' "  dicom2rec (dcmtk), the same, once" "$dcmtk" "$(echo "$nr / $dcmtk" | bc -l)"
printf 'ratio osteo-decode / GDCM loop: %.3f (target <= 1.10), over %d runs each\n' "$(echo "$dost / $dref" | bc -l)" "$runs"
printf 'speed-up over dicom2rec (dcmtk), uncompressed: %.1fx (target >= 20)\n' "$(echo "$dcmtk / $rost" | bc -l)"

# ---- preprocessing: 512x512 -> 128x128, streams of 1,000 and 10,000 records
# (200 synthetic records repeated: `cat` of streams is a stream)
echo
osteo-synth -q -n 200 --images 1 --size 512x512 --seed 2 --records >"$work/big.rec"
osteo-normalize --size 128x128 --method percentile "$work/big.rec" >"$work/small.rec"
feed() { for _ in $(seq "$1"); do cat "$2"; done; }
# seconds and peak MiB of one run of a filter over N copies of a stream
run() {
	local n=$1 src=$2 t0 t1 mem
	shift 2
	t0=$(now)
	mem=$(feed "$n" "$src" | /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1)
	t1=$(now)
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$mem / 1024" | bc -l)"
}
printf '%-62s %9s %10s %12s %12s %8s\n' "filter (median of $runs)" "records" "records/s" "peak MiB 1k" "peak MiB 10k" "ratio"
for f in "normalize --size 128x128 --method percentile:big" "augment --copies 1 --rotate 10 --scale 0.1 --noise 0.02:small"; do
	args=${f%%:*} src="$work/${f##*:}.rec"
	: >"$work/t"
	for i in $(seq "$runs"); do run 50 "$src" osteo-$args | awk '{ print $1 }' >>"$work/t"; done
	t=$(median <"$work/t")
	m1=$(run 5 "$src" osteo-$args | awk '{ print $2 }')
	m10=$(run 50 "$src" osteo-$args | awk '{ print $2 }')
	printf '%-62s %9d %10.0f %12.1f %12.1f %8.2f\n' "osteo-$args" 10000 "$(echo "10000 / $t" | bc -l)" "$m1" "$m10" \
		"$(echo "$m10 / $m1" | bc -l)"
done
echo "ratio: peak memory at 10,000 records over that at 1,000 (constant memory: about 1)"

fi
# ---- the CNN on the CPU: OsteoNet (the default --arch, 8 clinical features,
# batch 32) through the engine osteo-train and osteo-infer run it on
# (build/tests/cpu-bench), against PyTorch on the same machine with as many
# threads: at its best (channels-last, its allocator kept warm with
# GLIBC_TUNABLES) and as a user runs it by default (channels-first, glibc's
# default allocator).  Each measurement is a process of its own (its peak
# memory is that measurement's); rounds interleave osteo and PyTorch at its
# best, so a noisy minute hits both alike, and the table has medians
# (PyTorch default, 10-50x slower, runs in the first round only).
#   BENCH_SIZES="64 128 256" (the default) picks the image sides.
echo
cb="$top/build/tests/cpu-bench"
warm=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295
torch=no
/usr/bin/python3 -c 'import torch' 2>/dev/null && torch=yes
# the reference at its best: Debian's PyTorch uses whatever libblas.so.3 is
# (OpenBLAS when libopenblas0-pthread is installed, else the slow reference
# BLAS), and an OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE in the environment can
# hold OpenBLAS to an older core: both are unset for PyTorch's commands
# alone, and what it used is printed
python() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"; }
blas=$(readlink -f "$(/sbin/ldconfig -p | awk '/libblas\.so\.3 .*x86-64/ { print $NF; exit }')" 2>/dev/null || echo unknown)
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; osteo: oneDNN's sgemm, no BLAS"
echo "PyTorch's BLAS: $blas$(case $blas in *openblas*) ;; *) echo ' (NOT OpenBLAS: the reference is not at its best; apt-get install libopenblas0-pthread)' ;; esac);" \
	"OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} here, unset for PyTorch"
[ $torch = yes ] && echo "PyTorch's ATen kernels: $(python -c 'import torch; print(torch.__config__.show())' |
	sed -n 's/^ *- CPU capability usage: *//p') (ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-unset}); its convolutions: oneDNN"
"$cb" infer 128 1 2>&1 >/dev/null | sed 's/^cpu-bench: /engine at 128x128, inference: /'
"$cb" train 128 2 2>&1 >/dev/null | sed 's/^cpu-bench: /engine at 128x128, inference and training: /'
[ $torch = yes ] && echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'):" \
	"best = channels-last + GLIBC_TUNABLES=$warm; default = channels-first, glibc's allocator as it comes"
threads_list=1
[ "$(nproc)" -ge 2 ] && threads_list="1 2"
# the median of column c of file f
col() { awk -v c="$2" '{ print $c }' "$1" | median; }
if [ "${2:-}" != resnet ]; then
for t in $threads_list; do
	: >"$work/sgemm.$t"
	for _ in $(seq "$runs"); do OMP_NUM_THREADS=$t "$cb" sgemm 2048 >>"$work/sgemm.$t"; done
	echo "sgemm 2048x2048x2048 (oneDNN), $t thread(s): $(col "$work/sgemm.$t" 3) GFLOP/s (the peak the engine's share is of)"
done
printf '%-34s %9s %9s %8s %8s %9s %9s %10s\n' "OsteoNet, batch 32 (median of $runs)" "train/s" "infer/s" \
	"lat p50" "lat p90" "train MiB" "infer MiB" "GFLOP/s %"
for size in ${BENCH_SIZES:-64 128 256}; do
	for t in $threads_list; do
		for f in o b d; do for m in train infer latency; do : >"$work/$f.$m"; done; done
		for r in $(seq "$runs"); do
			for m in train infer latency; do
				OMP_NUM_THREADS=$t "$cb" $m "$size" 32 2>/dev/null >>"$work/o.$m"
				[ $torch = yes ] || continue
				GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$t" "$size" 32 8 cpu 0 $m \
					channels_last >>"$work/b.$m"
				# PyTorch default is 10-50x slower: the first round only
				[ "$r" = 1 ] && python "$top/bench/torch_osteonet.py" "$t" "$size" 32 8 cpu 0 $m default \
					>>"$work/d.$m"
			done
		done
		peak=$(col "$work/sgemm.$t" 3)
		for f in o b d; do
			[ $f = o ] || [ $torch = yes ] || continue
			case $f in o) who=osteo ;; b) who="PyTorch best" ;; d) who="PyTorch default" ;; esac
			tr=$(col "$work/$f.train" 4) in=$(col "$work/$f.infer" 4)
			p50=$(col "$work/$f.latency" 4) p90=$(col "$work/$f.latency" 5)
			trm=$(col "$work/$f.train" 5) inm=$(col "$work/$f.infer" 5)
			gf=-
			# osteo's lines have GFLOP/s before the memory
			if [ $f = o ]; then
				gt=$(col "$work/o.train" 6) gi=$(col "$work/o.infer" 6)
				gf=$(printf '%.0f/%.0f %.0f/%.0f' "$gt" "$gi" "$(echo "100 * $gt / $peak" | bc -l)" "$(echo "100 * $gi / $peak" | bc -l)")
			fi
			printf '%-34s %9.0f %9.0f %8.3f %8.3f %9.0f %9.0f %10s\n' "${size}x$size, $t thr, $who" "$tr" "$in" "$p50" "$p90" \
				"$trm" "$inm" "$gf"
			echo "$tr $in $p50 $trm $inm" >"$work/res.$f.$size.$t"
		done
		[ $torch = yes ] || continue
		read -r otr oin op50 otrm oinm <"$work/res.o.$size.$t"
		for f in b d; do
			read -r ttr tin tp50 ttrm tinm <"$work/res.$f.$size.$t"
			printf '  ratio osteo / PyTorch %-7s train %.2f, infer %.2f, latency %.2f, train memory %.2f, infer memory %.2f\n' \
				"$([ $f = b ] && echo best || echo default)" "$(echo "$otr / $ttr" | bc -l)" "$(echo "$oin / $tin" | bc -l)" \
				"$(echo "$op50 / $tp50" | bc -l)" "$(echo "$otrm / $ttrm" | bc -l)" "$(echo "$oinm / $tinm" | bc -l)"
		done
	done
	if [ "$threads_list" = "1 2" ]; then
		read -r a1 b1 _ <"$work/res.o.$size.1"
		read -r a2 b2 _ <"$work/res.o.$size.2"
		printf '  osteo 2 threads / 1 thread at %dx%d: train %.2f, infer %.2f\n' "$size" "$size" \
			"$(echo "$a2 / $a1" | bc -l)" "$(echo "$b2 / $b1" | bc -l)"
	fi
done
echo "GFLOP/s %: the engine's GFLOP/s in training/inference (3 and 1 forwards' multiply-adds), then as % of sgemm's"
[ $torch = yes ] || echo "PyTorch: not installed (apt-get install python3-torch) - no reference run"

fi
# ---- ResNet-18 (torchvision's, 3 classes; --arch resnet18 or an imported
# one) at 224x224, 3 channels, batch 32, all cores: the engine's path for
# residual networks (engine/cpu/res.c) against PyTorch's torchvision model
# at its best, as above (each a process of its own, rounds interleaved)
echo
T=$(nproc)
for f in o b; do for m in train infer latency; do : >"$work/r$f.$m"; done; done
for r in $(seq "$runs"); do
	for m in train infer latency; do
		OMP_NUM_THREADS=$T "$cb" $m 224 32 random fp32 resnet18 2>/dev/null >>"$work/ro.$m"
		[ $torch = yes ] || continue
		BENCH_NET=resnet18 GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 224 32 0 cpu 0 $m \
			channels_last >>"$work/rb.$m"
	done
done
"$cb" infer 224 1 random fp32 resnet18 2>&1 >/dev/null | sed 's/^cpu-bench: /engine, ResNet-18 inference: /'
printf '%-34s %9s %9s %8s %8s %9s %9s\n' "ResNet-18 224x224, batch 32, $T thr" "train/s" "infer/s" "lat p50" "lat p90" \
	"train MiB" "infer MiB"
for f in o b; do
	[ $f = o ] || [ $torch = yes ] || continue
	printf '%-34s %9.1f %9.1f %8.2f %8.2f %9.0f %9.0f\n' "$([ $f = o ] && echo osteo || echo 'PyTorch best')" \
		"$(col "$work/r$f.train" 4)" "$(col "$work/r$f.infer" 4)" "$(col "$work/r$f.latency" 4)" \
		"$(col "$work/r$f.latency" 5)" "$(col "$work/r$f.train" 5)" "$(col "$work/r$f.infer" 5)"
done
if [ $torch = yes ]; then
	printf '  ratio osteo / PyTorch best: train %.2f (target >= 1.5), infer %.2f (target >= 2), latency %.2f\n' \
		"$(echo "$(col "$work/ro.train" 4) / $(col "$work/rb.train" 4)" | bc -l)" \
		"$(echo "$(col "$work/ro.infer" 4) / $(col "$work/rb.infer" 4)" | bc -l)" \
		"$(echo "$(col "$work/ro.latency" 4) / $(col "$work/rb.latency" 4)" | bc -l)"
fi

if [ "${2:-}" != resnet ]; then
# ---- the programs end to end, as a user runs them: osteo-train's images/s
# per epoch (its log; epochs 2 and 3, the first has the warm-up) and
# osteo-infer's over the whole process, at 128x128, batch 32, all cores, on
# make demo's synthetic cohort prepared by pipelines/prep.mk (decoded,
# normalised to 128x128 with padding, fused: flat regions and black borders,
# so many exact ties in the pooling windows), on random records of the
# same size and on tie-heavy ones (bench.h), against the engine on one
# batch (cpu-bench) and PyTorch's own loop over as many tensors at its best
# (channels-last, allocator warm, a new order each epoch, batches gathered
# by index).  The program's overhead: its images/s on random records
# against the engine's on random tensors; start-up: the run's seconds
# outside its epochs.
#   BENCH_N (default 1000): the cohort's patients
echo
T=$(nproc)
nb=${BENCH_N:-1000}
make -s -f "$top/pipelines/prep.mk" OUT="$work/prep" N="$nb" SEED=1 SIZE=128x128 COPIES=0 >/dev/null 2>&1
cohort=$work/prep/train.fused.rec
ne=$(osteo-dump --count "$cohort" | awk -F'\t' '$1 == "all" { print $3 }')
"$cb" records "$ne" 128 random >"$work/random.rec"
"$cb" records "$ne" 128 ties >"$work/ties.rec"
# osteo-train's images/s (the mean of epochs 2 and 3) and start-up (its
# run's seconds outside the epochs); osteo-infer's images/s over the records
# past the first 32 (its run on them all less its run on those 32, so its
# start-up is left out as PyTorch's import is) and over its whole process
# (a second argument: --precision's word)
prog() {
	local t0 t1 t2 t3 p=${2:-fp32}
	osteo-cat --head 32 "$1" >"$work/head.rec"
	t0=$(now)
	OMP_NUM_THREADS=$T osteo-train -q --precision $p --epochs 3 --batch 32 --patience 0 --log "$work/log.tsv" \
		-o "$work/m.rec" "$1"
	t1=$(now)
	OMP_NUM_THREADS=$T osteo-infer -q --precision $p -m "$work/m.rec" "$1" >/dev/null
	t2=$(now)
	OMP_NUM_THREADS=$T osteo-infer -q --precision $p -m "$work/m.rec" "$work/head.rec" >/dev/null
	t3=$(now)
	awk -F'\t' -v w="$(echo "$t1 - $t0" | bc -l)" -v n="$ne" -v all="$(echo "$t2 - $t1" | bc -l)" \
		-v head="$(echo "$t3 - $t2" | bc -l)" '
		NR > 1 { s += $7; if (NR > 2) r[++k] = $8 }
		END { printf "%.1f %.2f %.1f %.1f %.2f\n", (r[1] + r[2]) / 2, w - s, (n - 32) / (all - head), n / all, head }' \
		"$work/log.tsv"
}
for f in engine engine-ties cohort random ties torch; do : >"$work/e2e.$f"; done
for r in $(seq "$runs"); do
	for k in random ties; do
		e=$([ $k = ties ] && echo engine-ties || echo engine)
		tr=$(OMP_NUM_THREADS=$T "$cb" train 128 32 $k 2>/dev/null | awk '{ print $4 }')
		in=$(OMP_NUM_THREADS=$T "$cb" infer 128 32 $k 2>/dev/null | awk '{ print $4 }')
		echo "$tr - $in - -" >>"$work/e2e.$e"
	done
	prog "$cohort" >>"$work/e2e.cohort"
	prog "$work/random.rec" >>"$work/e2e.random"
	prog "$work/ties.rec" >>"$work/e2e.ties"
	if [ $torch = yes ]; then
		tt=$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 loop-train \
			channels_last "$ne" | awk '{ print $4 }')
		ti=$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 loop-infer \
			channels_last "$ne" | awk '{ print $4 }')
		echo "$tt - $ti - -" >>"$work/e2e.torch"
	fi
done
num() { case $1 in -) echo - ;; *) printf "%.${2}f" "$1" ;; esac; }
# col's median, or - for a column the row does not have
cm() { [ "$(awk -v c="$2" 'NR == 1 { print $c }' "$1")" = - ] && echo - || col "$1" "$2"; }
printf '%-50s %8s %8s %8s %8s %8s\n' "whole programs, 128x128, batch 32, $T thr" "train/s" "infer/s" "whole/s" \
	"train st" "infer st"
for f in engine engine-ties cohort random ties torch; do
	[ -s "$work/e2e.$f" ] || continue
	case $f in
	engine) who="engine, one batch, random (cpu-bench)" ;;
	engine-ties) who="engine, one batch, tie-heavy" ;;
	cohort) who="osteo-train/infer, demo cohort ($ne records)" ;;
	random) who="osteo-train/infer, random records" ;;
	ties) who="osteo-train/infer, tie-heavy records" ;;
	torch) who="PyTorch's loop at its best ($ne tensors)" ;;
	esac
	printf '%-50s %8s %8s %8s %8s %8s\n' "$who" "$(num "$(cm "$work/e2e.$f" 1)" 0)" "$(num "$(cm "$work/e2e.$f" 3)" 0)" \
		"$(num "$(cm "$work/e2e.$f" 4)" 0)" "$(num "$(cm "$work/e2e.$f" 2)" 2)" "$(num "$(cm "$work/e2e.$f" 5)" 2)"
done
et=$(col "$work/e2e.engine" 1)
ct=$(col "$work/e2e.cohort" 1) ci=$(col "$work/e2e.cohort" 3) cw=$(col "$work/e2e.cohort" 4)
rt=$(col "$work/e2e.random" 1) tt=$(col "$work/e2e.ties" 1)
printf '  osteo-train, cohort / random records %.2f, tie-heavy / random %.2f, cohort / engine %.2f (targets >= 0.90)\n' \
	"$(echo "$ct / $rt" | bc -l)" "$(echo "$tt / $rt" | bc -l)" "$(echo "$ct / $et" | bc -l)"
printf '  program overhead over the engine per epoch, random records: %.1f%% (target <= 10%%)\n' \
	"$(echo "100 * (1 - $rt / $et)" | bc -l)"
if [ -s "$work/e2e.torch" ]; then
	pt=$(col "$work/e2e.torch" 1) pi=$(col "$work/e2e.torch" 3)
	printf '  ratio osteo (cohort) / PyTorch loop at its best: train %.2f (target >= 2), infer %.2f (target >= 2.5), infer as a whole process %.2f\n' \
		"$(echo "$ct / $pt" | bc -l)" "$(echo "$ci / $pi" | bc -l)" "$(echo "$cw / $pi" | bc -l)"
fi
echo "train/s: osteo-train's epochs; infer/s: osteo-infer past its start-up (reading and writing records included); whole/s: its"
echo "whole process; st: seconds of start-up (train: outside its epochs: reading, checkpoints; infer: a run on 32 records)"

echo
mpi_bench "$cohort"

# ---- bfloat16: --precision bf16 against PyTorch's bfloat16 autocast
# (torch.autocast("cpu", dtype=torch.bfloat16), channels-last, allocator
# warm, the same BLAS), the engine on one batch and the programs on the
# prepared cohort as above, with float32 beside each in the same rounds;
# only where the CPU has AVX512_BF16 or AMX (osteo refuses bf16 elsewhere)
echo
if OMP_NUM_THREADS=$T "$cb" infer 128 32 random bf16 >/dev/null 2>"$work/bf16.err"; then
	"$cb" train 128 2 random bf16 2>&1 >/dev/null | sed 's/^cpu-bench: /engine in bf16: /'
	for f in ef eb tf tb pf pb lf lb; do : >"$work/h.$f"; done
	for r in $(seq "$runs"); do
		for p in fp32 bf16; do
			k=${p:0:1}
			echo "$(OMP_NUM_THREADS=$T "$cb" train 128 32 random $p 2>/dev/null | awk '{ print $4 }') -" \
				"$(OMP_NUM_THREADS=$T "$cb" infer 128 32 random $p 2>/dev/null | awk '{ print $4 }') - -" >>"$work/h.e$k"
			prog "$cohort" $p >>"$work/h.p$k"
			[ $torch = yes ] || continue
			l=$([ $p = bf16 ] && echo channels_last_bf16 || echo channels_last)
			echo "$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 train $l | awk '{ print $4 }') -" \
				"$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 infer $l | awk '{ print $4 }') - -" \
				>>"$work/h.t$k"
			echo "$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 loop-train $l "$ne" | awk '{ print $4 }') -" \
				"$(GLIBC_TUNABLES=$warm python "$top/bench/torch_osteonet.py" "$T" 128 32 8 cpu 0 loop-infer $l "$ne" | awk '{ print $4 }') - -" \
				>>"$work/h.l$k"
		done
	done
	printf '%-50s %8s %8s %8s %8s %8s\n' "precision, 128x128, batch 32, $T thr" "train/s" "infer/s" "whole/s" "train st" "infer st"
	for f in ef eb tf tb pf pb lf lb; do
		[ -s "$work/h.$f" ] || continue
		p=$([ "${f:1}" = b ] && echo bf16 || echo fp32)
		case $f in
		e?) who="engine, one batch, random, $p" ;;
		t?) who="PyTorch, one batch, at its best, $p" ;;
		p?) who="osteo-train/infer, demo cohort, $p" ;;
		l?) who="PyTorch's loop at its best, $p" ;;
		esac
		printf '%-50s %8s %8s %8s %8s %8s\n' "$who" "$(num "$(cm "$work/h.$f" 1)" 0)" "$(num "$(cm "$work/h.$f" 3)" 0)" \
			"$(num "$(cm "$work/h.$f" 4)" 0)" "$(num "$(cm "$work/h.$f" 2)" 2)" "$(num "$(cm "$work/h.$f" 5)" 2)"
	done
	printf '  osteo bf16 / fp32: engine train %.2f, infer %.2f; programs train %.2f, infer %.2f\n' \
		"$(echo "$(col "$work/h.eb" 1) / $(col "$work/h.ef" 1)" | bc -l)" "$(echo "$(col "$work/h.eb" 3) / $(col "$work/h.ef" 3)" | bc -l)" \
		"$(echo "$(col "$work/h.pb" 1) / $(col "$work/h.pf" 1)" | bc -l)" "$(echo "$(col "$work/h.pb" 3) / $(col "$work/h.pf" 3)" | bc -l)"
	if [ -s "$work/h.tb" ]; then
		printf '  ratio osteo / PyTorch, both bf16: engine train %.2f (target >= 1.5), infer %.2f (target >= 2);' \
			"$(echo "$(col "$work/h.eb" 1) / $(col "$work/h.tb" 1)" | bc -l)" "$(echo "$(col "$work/h.eb" 3) / $(col "$work/h.tb" 3)" | bc -l)"
		printf ' programs / loop: train %.2f, infer %.2f\n' \
			"$(echo "$(col "$work/h.pb" 1) / $(col "$work/h.lb" 1)" | bc -l)" "$(echo "$(col "$work/h.pb" 3) / $(col "$work/h.lb" 3)" | bc -l)"
		printf '  ratio osteo bf16 / PyTorch fp32 at its best: engine train %.2f, infer %.2f\n' \
			"$(echo "$(col "$work/h.eb" 1) / $(col "$work/h.tf" 1)" | bc -l)" "$(echo "$(col "$work/h.eb" 3) / $(col "$work/h.tf" 3)" | bc -l)"
	fi
else
	echo "bfloat16: not measured: $(tail -n 1 "$work/bf16.err")"
fi
fi
fi

# ---- the CNN on a GPU: OsteoNet at 128x128 and 256x256, batch 32 and 256,
# osteo's CUDA backend (build/tests/gpu-bench: steady-state steps through
# engine/engine.h) against PyTorch eager on the same card, float32 products
# on both, then TF32 on both; GB/s is what the step's calls read and write
# over its time, and the fraction is of the card's peak
echo
if osteo-gpuinfo -q 2>/dev/null && [ -x "$top/build/tests/gpu-bench" ]; then
	osteo-gpuinfo
	# the python3 on PATH: a GPU machine's PyTorch is often not Debian's
	torch=no
	python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && torch=yes
	printf '%-34s %10s %10s %8s %10s %10s %8s\n' "OsteoNet on $(osteo-gpuinfo | head -n 1 | cut -f 2)" \
		"train im/s" "GB/s" "of peak" "infer im/s" "GB/s" "of peak"
	for tf32 in 0 1; do
		for size in 128 256; do
			for batch in 32 256; do
				"$top/build/tests/gpu-bench" "$size" "$batch" "$tf32" >"$work/g"
				read -r _ _ tr trb trf <<<"$(grep train "$work/g")"
				read -r _ _ inf inb inff <<<"$(grep infer "$work/g")"
				label="${size}x$size batch $batch$([ "$tf32" = 1 ] && echo ' tf32')"
				printf '%-34s %10.0f %10.1f %8.2f %10.0f %10.1f %8.2f\n' "osteo $label" "$tr" "$trb" "$trf" "$inf" "$inb" "$inff"
				[ $torch = yes ] || continue
				python3 "$top/bench/torch_osteonet.py" "$(nproc)" "$size" "$batch" 8 cuda "$tf32" >"$work/t"
				for l in default channels_last; do
					tt=$(awk -v l=$l '$2 == l && $3 == "train" { print $4 }' "$work/t")
					ti=$(awk -v l=$l '$2 == l && $3 == "infer" { print $4 }' "$work/t")
					printf '%-34s %10.0f %10s %8s %10.0f\n' "PyTorch $l" "$tt" - - "$ti"
					printf '%-34s %10.2f %10s %8s %10.2f\n' "  ratio osteo / PyTorch $l" \
						"$(echo "$tr / $tt" | bc -l)" "" "" "$(echo "$inf / $ti" | bc -l)"
				done
			done
		done
	done
	[ $torch = yes ] || echo "PyTorch with CUDA: not importable here - no reference run"
else
	echo "GPU: $(osteo-gpuinfo 2>&1 || true) - no GPU figures (README: the last ones, from a device)"
fi
