# The best single clinical column as a classifier, the bar a CNN must clear:
# nearest class median for numeric columns, the majority class of each value
# otherwise, fitted on the training patients and scored on the test records.
#   awk -f best-column.awk clinical.csv train.tsv test.tsv  (tsv: patient, label)
# prints the column and its accuracy.  Plain awk (mawk), no gawk extensions.
BEGIN { FS = "[,\t]" }
FILENAME == ARGV[1] { if (FNR == 1) { for (i = 2; i <= NF; i++) name[i] = $i; nc = NF; next }
	for (i = 2; i <= nc; i++) val[$1, i] = $i; next }
FILENAME == ARGV[2] { tr[++ntr] = $1; trl[ntr] = $2; next }
{ te[++nte] = $1; tel[nte] = $2 }
END {
	best = 0
	for (i = 2; i <= nc; i++) {
		if (name[i] == "label" || name[i] == "modality" || name[i] == "region") continue
		numeric = 1
		for (j = 1; j <= ntr; j++) if (val[tr[j], i] !~ /^-?[0-9.]+$/) numeric = 0
		delete cnt; delete med
		if (numeric) {
			for (k = 0; k < 3; k++) { n = 0; delete v
				for (j = 1; j <= ntr; j++) if (trl[j] == k) v[++n] = val[tr[j], i] + 0
				isort(v, n); med[k] = n ? v[int((n + 1) / 2)] : "" }
		} else for (j = 1; j <= ntr; j++) cnt[val[tr[j], i], trl[j]]++
		right = 0
		for (j = 1; j <= nte; j++) {
			x = val[te[j], i]; p = -1
			if (numeric) { d = 1e99; for (k = 0; k < 3; k++) if (med[k] != "" && (x - med[k])^2 < d) { d = (x - med[k])^2; p = k } }
			else { m = -1; for (k = 0; k < 3; k++) if (cnt[x, k] > m) { m = cnt[x, k]; p = k } }
			right += p == tel[j]
		}
		acc = right / nte
		if (acc > best) { best = acc; bname = name[i] }
	}
	printf "%s %.4f\n", bname, best
}
function isort(a, n,    i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
