#!/usr/bin/env bash
# tmux 3.3a, found by the flood bench: when a pane floods output, the server sometimes never
# reaps the pane's process. The pane shows dead (#{pane_dead} = 1) but #{pane_dead_status}
# stays empty, the process stays a zombie, and the pane-died hook does not run — so the
# runner's exit file is never written and `awaitExit` never resolves — until some other
# child of the tmux server exits (here `run-shell true`), which makes tmux call waitpid.
# No Node, no pipe-pane, no control client involved. Usage: bash repro-tmux-lost-exit.sh [RUNS]
set -u
runs=${1:-10}
sock=geppetto-repro-$$
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"' EXIT
tmux -L "$sock" new-session -d -s keep sleep infinity
line=$(printf 'x%.0s' $(seq 98))
missed=0
for i in $(seq 1 "$runs"); do
  pane=$(tmux -L "$sock" new-session -d -P -F '#{pane_id}' -s "r$i" -x 120 -y 32 sleep infinity)
  tmux -L "$sock" set-option -w -t "r$i" remain-on-exit on \; \
    respawn-pane -k -t "$pane" -- sh -c "yes $line | head -n 400000"
  state=""
  for _ in $(seq 1 50); do
    state=$(tmux -L "$sock" display-message -p -t "$pane" '#{pane_dead}:#{pane_dead_status}')
    [ "$state" = "1:0" ] && break
    sleep 0.1
  done
  if [ "$state" = "1:0" ]; then
    echo "run $i: exit status seen"
  else
    missed=$((missed + 1))
    tmux -L "$sock" run-shell true
    echo "run $i: after 5 s still '$state' (dead, no status); after run-shell true: $(tmux -L "$sock" display-message -p -t "$pane" '#{pane_dead}:#{pane_dead_status}')"
  fi
  tmux -L "$sock" kill-session -t "r$i"
done
echo "missed: $missed/$runs"
