# every program's --help and its man page's SYNOPSIS name the same options (the options every
# program has, osteo(7)'s, aside): an option added to one and not the other fails here
. "$TOP/tests/lib.sh"
bad=
for p in "$TOP"/bin/osteo-*; do
	n=$(basename "$p")
	m=$TOP/man/$n.1
	[ -f "$m" ] || fail "$n has no man page"
	# --help's options: "  --name ..." or "  -x, --name ..." lines before the common ones
	"$p" --help | sed '/^common to every program:/,$d' | sed -n '/^options:/,$p' |
		grep -oE '^  (-[a-zA-Z0-9], )?--[a-z0-9-]+' | sed 's/^ *//' >help.raw || true
	# subcommand programs list their options in the usage lines too
	"$p" --help | sed '/^options:/,$d' | grep -oE -- '--[a-z0-9-]+' | grep -vxE -- '--(max-tensor-bytes|max-record-bytes|max-string|max-records|help|version|quiet)' >>help.raw || true
	sed 's/, / /' help.raw | tr ' ' '\n' | sort -u >help.set
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$m" | { grep -oE 'Fl -?[a-zA-Z0-9][a-z0-9-]*' || true; } |
		sed 's/^Fl /-/' | awk '!/^-(q|h|-help|-version|-quiet|-max-(tensor-bytes|record-bytes|string|records))$/' | sort -u >man.set
	# an option --help names, short or long, that the SYNOPSIS has in neither form
	while read -r a b; do
		grep -qxF -- "$a" man.set || { [ -n "${b:-}" ] && grep -qxF -- "$b" man.set; } ||
			bad="$bad $n:${b:-$a}(help only)"
	done < <(sed 's/, / /' help.raw | sort -u)
	# a long option the SYNOPSIS has that --help does not
	for o in $(awk '/^--/' man.set); do
		grep -qxF -- "$o" help.set || bad="$bad $n:$o(man only)"
	done
done
[ -z "$bad" ] || fail "--help and the man page's SYNOPSIS differ:$bad"
# a man page's example continued on the next line says so with \e (a bare backslash at the end
# of a roff line joins the lines and vanishes, so the printed command no longer copies and pastes)
! grep -n '[^e]\\$' "$TOP"/man/* >bare || fail "a bare backslash ends these lines: $(cat bare)"
mandoc -Tascii "$TOP/man/osteo-train.1" | sed 's/.\x08//g' | contains -E 'fusion late \\$' || fail "osteo-train(1)'s continued example"
