# bash completion for the osteo programs; make install puts it in
# $(PREFIX)/share/bash-completion/completions under each program's name.
# Options are read from each program's own --help (its synopsis and its
# table of options), so they stay in step.
_osteo() {
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	}
	local prog=${COMP_WORDS[0]##*/}
	case $prev in
	--device) COMPREPLY=($(compgen -W "auto cpu cuda cuda:0 cuda:1" -- "$cur")); return ;;
	--kernel) COMPREPLY=($(compgen -W "rbf linear" -- "$cur")); return ;;
	--features) COMPREPLY=($(compgen -W "both image clinical" -- "$cur")); return ;;
	--by)
		if [ "$prog" = osteo-cat ]; then COMPREPLY=($(compgen -W "record patient" -- "$cur"))
		else COMPREPLY=($(compgen -W "modality region sex age:10" -- "$cur")); fi
		return ;;
	--model)
		if [ "$prog" = osteo-baseline ]; then COMPREPLY=($(compgen -W "svm rf gbt" -- "$cur") $(compgen -f -- "$cur"))
		else COMPREPLY=($(compgen -f -- "$cur")); fi
		return ;;
	--window) COMPREPLY=($(compgen -W "file" -- "$cur")); return ;;
	--method) COMPREPLY=($(compgen -W "minmax zscore percentile window" -- "$cur")); return ;;
	--fit) COMPREPLY=($(compgen -W "pad crop stretch" -- "$cur")); return ;;
	--threshold) COMPREPLY=($(compgen -W "youden 0.5 sens:0.9 spec:0.9" -- "$cur")); return ;;
	--heatmap-mode) COMPREPLY=($(compgen -W "auto gradcam absolute occlusion" -- "$cur")); return ;;
	--png | -o | --output | --log | --checkpoint | --resume | --init | -m | --val | --roc | --data | \
	--manifest | --clinical | --stats | --fit-stats | --encoding | --fit-encoding | --train | --test | --files-from | \
	--truth | --pseudonymize | --threshold-from | --link)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [ "$prog" = osteo-plot ] && [ "$COMP_CWORD" = 1 ]; then
		COMPREPLY=($(compgen -W "curves roc confusion correlation heatmaps reliability risk-coverage" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		# the synopsis and the lines of the option table, options only
		COMPREPLY=($(compgen -W "$("$prog" --help 2>&1 | sed -n '1,/^$/p; /^  -/p' |
			grep -oE -- '(^|[][ (|])--?[a-zA-Z][-a-zA-Z0-9]*' | sed 's/^[][ (|]//' | sort -u)" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _osteo osteo-augment osteo-baseline osteo-cat osteo-decode osteo-dump osteo-fuse osteo-gpuinfo \
	osteo-infer osteo-metrics osteo-normalize osteo-onnx osteo-plot osteo-split osteo-sr osteo-synth osteo-train
