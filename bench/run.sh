#!/bin/bash
# make bench: speed and memory of the osteo programs against a reference run
# in the same invocation.  Prints a table; quote the medians and ratios.
#   bench/run.sh [runs [gpu]]      (gpu: the GPU figures alone, for a lent GPU machine)
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

echo "osteo bench, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (OpenBLAS serves osteo-train and osteo-infer only; they run with it as set and unset)"
echo

if [ "${2:-}" != gpu ]; then
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

# ---- the CNN: OsteoNet (the default --arch) at 128x128, batch 32, on the CPU,
# against PyTorch with as many threads, default layout and channels-last
echo
osteo-synth -q -n 256 --images 1 --size 128x128 --seed 3 --records | osteo-normalize --method percentile >"$work/cnn.rec"
threads=$(nproc)
cnn() {
	/usr/bin/time -f %M -o "$work/mem.train" osteo-train -q --epochs 3 --batch 32 --log "$work/log.tsv" \
		-o "$work/m.model" "$work/cnn.rec"
	train=$(tail -n +2 "$work/log.tsv" | cut -f 8 | median)
	for _ in 1 2 3 4; do cat "$work/cnn.rec"; done >"$work/cnn4.rec"
	t0=$(now); osteo-infer -m "$work/m.model" --batch 32 "$work/cnn.rec" >/dev/null; t1=$(now)
	/usr/bin/time -f %M -o "$work/mem.infer" osteo-infer -m "$work/m.model" --batch 32 "$work/cnn4.rec" >/dev/null
	t2=$(now)
	# the second run has 768 records more: the difference leaves start-up out
	infer=$(echo "768 / (($t2 - $t1) - ($t1 - $t0))" | bc -l)
	printf '%-44s %10.1f %10.1f %12.0f %12.0f\n' "osteo (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})" "$train" \
		"$infer" "$(echo "$(cat "$work/mem.train") / 1024" | bc -l)" "$(echo "$(cat "$work/mem.infer") / 1024" | bc -l)"
	echo "$train $infer" >"$work/osteo.cnn"
}
printf '%-44s %10s %10s %12s %12s\n' "OsteoNet 128x128, batch 32, $threads threads" "train im/s" "infer im/s" \
	"train MiB" "infer MiB"
( unset OPENBLAS_CORETYPE; cnn )
cnn
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	/usr/bin/python3 "$top/bench/torch_osteonet.py" "$threads" 128 32 0 >"$work/torch"
	for l in default channels_last; do
		printf '%-44s %10.1f %10.1f\n' "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $l" \
			"$(awk -v l=$l '$2 == l && $3 == "train" { print $4 }' "$work/torch")" \
			"$(awk -v l=$l '$2 == l && $3 == "infer" { print $4 }' "$work/torch")"
	done
	read -r otrain oinfer <"$work/osteo.cnn"
	for l in default channels_last; do
		tt=$(awk -v l=$l '$2 == l && $3 == "train" { print $4 }' "$work/torch")
		ti=$(awk -v l=$l '$2 == l && $3 == "infer" { print $4 }' "$work/torch")
		printf 'ratio osteo (as the environment sets OpenBLAS) / PyTorch %s: train %.2f, infer %.2f\n' "$l" \
			"$(echo "$otrain / $tt" | bc -l)" "$(echo "$oinfer / $ti" | bc -l)"
	done
else
	echo "PyTorch: not installed (apt-get install python3-torch) - no reference run"
fi
fi

# ---- the CNN on a GPU: OsteoNet at 128x128 and 256x256, batch 32 and 256,
# osteo's CUDA backend (build/tests/gpu-bench: steady-state steps through
# common/engine.h) against PyTorch eager on the same card, float32 products
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
