# Sourced by the bench/clean scripts: sets $shared to the shared folder that holds eval/
# (the evaluation sets and score.py). It sits beside the repository (../shared) in a checkout
# of main, two levels up in a worktree under wt/; IDPHOTO_SHARED_DIR overrides both.
shared=${IDPHOTO_SHARED_DIR:-}
if [ -z "$shared" ]; then
  for d in "$root/../shared" "$root/../../shared"; do
    [ -f "$d/eval/score.py" ] && { shared=$(cd "$d" && pwd); break; }
  done
fi
[ -n "$shared" ] || shared="$root/../shared"
