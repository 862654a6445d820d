# zsh -f zsh_complete.zsh FPATH_DIR LINE...
# Types each LINE and TAB into one interactive zsh on a pseudo-terminal
# (zsh/zpty), with FPATH_DIR first in $fpath, and prints "== LINE" and then
# every match the completion system offered, one per line, sorted. Used by
# integration/test_install.py (one shell for all lines: compinit is slow).
zmodload zsh/zpty
local dir=$1
shift
zpty comp zsh -f -i
zpty -w comp "PS1=''; fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
# Every match goes through compadd: print each (-O collects them without
# adding) between @@ marks, then add them as usual.
zpty -w comp 'compadd() { local -a m; builtin compadd -O m "$@"; print -rl -- "@@"${^m}"@@"; builtin compadd "$@"; }'
# Ctrl-X after the TAB prints an end mark once completion is done, and
# clears the line for the next; the mark is split in the source so that the
# terminal's echo of this line is no end.
zpty -w comp 'zstyle ":completion:*" list-prompt ""; LISTMAX=10000; comptest() { print -r -- "%%""END%%"; BUFFER=; }; zle -N comptest; bindkey "^X" comptest'
local line out
for line in "$@"; do
	zpty -w -n comp "$line"$'\t'
	zpty -w -n comp $'\C-x'
	out=
	zpty -r -m comp out '*%%END%%*'
	print -r -- "== $line"
	# the echoed compadd definition holds '"@@"${^m}"@@"': no match has $ or "
	print -r -- "$out" | tr -d "\r" | grep -ao "@@[^@$\"]*@@" | sed "s/^@@//; s/@@$//" | sort -u
done
zpty -d comp
