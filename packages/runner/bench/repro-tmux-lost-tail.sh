#!/usr/bin/env bash
# tmux 3.3a on Linux, on a machine short of CPU: a pane whose command prints up to its exit
# can lose the last KB of that output. The kernel hands a pty's writes to the reading side
# (tmux) from a worker thread; told of the exit (SIGCHLD), tmux asks the pty how much is
# unread (FIONREAD), which does not count bytes still waiting for that worker, and closes the
# pane with them — pipe-pane never sees them. Measured here: 8 of 90 panes short by up to
# 10 KB. Geppetto's pane wrapper waits 50 ms after the command for this reason
# (packages/runner/src/tmux/pane-wrapper.ts). No Node, no Geppetto code involved.
# Usage: bash repro-tmux-lost-tail.sh [ROUNDS] [AFTER]   (3 panes per round, 2 busy loops;
# AFTER is shell run after the command, e.g. "sleep 0.005", to see that a wait keeps the tail)
set -u
rounds=${1:-30}
after=${2:-}
sock=geppetto-repro-tail-$$
dir=$(mktemp -d)
t() { tmux -L "$sock" "$@"; }
busy=()
cleanup() {
  kill "${busy[@]}" 2>/dev/null
  t kill-server 2>/dev/null
  rm -rf "$dir" "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
}
trap cleanup EXIT
t -f /dev/null new-session -d -s keep sleep infinity
t set-option -g remain-on-exit on
for _ in 1 2; do (while :; do :; done) & busy+=($!); done
want=1470000 # 30,000 lines of 49 bytes
short=0
total=0
for r in $(seq 1 "$rounds"); do
  for k in a b c; do
    n=$r$k
    mkfifo "$dir/gate$n"
    # The pane's command waits on a gate until its output is piped, prints, exits.
    t new-session -d -s "p$n" "read _ < $dir/gate$n; stty -opost; awk 'BEGIN { for (i = 0; i < 30000; i++) printf \"line %06d abcdefghijklmnopqrstuvwxyz0123456789\\n\", i }'${after:+; $after}"
    t pipe-pane -t "p$n" "cat > $dir/out$n"
    echo go > "$dir/gate$n" &
  done
  for k in a b c; do
    n=$r$k
    until [ "$(t display-message -p -t "p$n" '#{pane_dead}')" = 1 ]; do sleep 0.02; done
    t kill-session -t "p$n"
    sleep 0.05 # cat writes what it has and exits
    size=$(stat -c %s "$dir/out$n")
    total=$((total + 1))
    if [ "$size" != "$want" ]; then
      short=$((short + 1))
      echo "pane $n: $size of $want bytes logged"
    fi
  done
done
echo "after the command: '${after:-nothing}'; panes: $total; short: $short"
