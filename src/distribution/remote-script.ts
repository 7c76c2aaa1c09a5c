/**
 * The mirror-side helper: a POSIX sh script, so a mirror needs only sshd, rsync and a shell (no rcurepo).
 *
 * Two ways in, one script:
 * - unrestricted key or local path: the pusher runs `sh -s -- ROOT VERB ARGS...` with this text on stdin;
 * - restricted key (`mirror authorized-keys`): the operator installs it and the key's forced command is
 *   `sh SCRIPT ROOT`; the verb then comes from SSH_ORIGINAL_COMMAND. An `rsync --server` upload is handed
 *   to rrsync, write-only and confined to ROOT/snapshots; anything else must be one of the verbs below with
 *   arguments of [A-Za-z0-9._@:-] only (no shell syntax can get through).
 *
 * Layout under ROOT (MIRROR_FORMAT, docs/FORMAT.md "Mirrors"):
 *   .rcurepo-mirror              "format 1" and "repo NAME": refused when it differs
 *   current -> snapshots/GEN     the served path, swapped by symlink + rename
 *   snapshots/GEN/               complete snapshots; snapshots/.GEN.partial/ an upload in progress
 *   snapshots/.spare-GEN/        a flushed hard-link copy of the served GEN, made in the background after
 *                                a push, taken by the next push's prepare (.spare-GEN.making.PID meanwhile)
 *   meta/superseded/GEN          epoch seconds when GEN stopped being current (its grace clock)
 *   .lock/holder                 "TOKEN HOST PID SINCE BEAT" of the pusher holding the mirror
 *
 * Output: one line per fact (`format 1`, `current 12`, `snapshot 11`, `partial 13`, `lock ...`, `locked`,
 * `active 13`, `pruned 9`); a refusal is `error KIND MESSAGE` on stdout and exit status 3.
 */
export const MIRROR_FORMAT = 1;

export const REMOTE_SCRIPT = `#!/bin/sh
# rcurepo mirror helper (mirror format ${MIRROR_FORMAT}). Installed as a forced command:
#   command="sh /path/to/this/script /srv/mirror/REPO",restrict ssh-ed25519 AAAA...
# or sent over ssh by the pusher. Verbs: hello REPO | begin REPO GEN TOKEN HOST PID | lock TOKEN HOST PID |
# refresh TOKEN | unlock TOKEN | breaklock TOKEN | activate GEN TOKEN | prune KEEP GRACE TOKEN |
# finish GEN KEEP GRACE TOKEN
set -u
umask 022
FORMAT=${MIRROR_FORMAT}
die() { k=$1; shift; echo "error $k $*"; exit 3; }
[ $# -ge 1 ] || die usage "usage: sh $0 ROOT [VERB ARGS...]"
ROOT=$1; shift
case $ROOT in /*) ;; *) die usage "ROOT must be an absolute path";; esac
S=$ROOT/snapshots
if [ $# -eq 0 ]; then
  cmd=\${SSH_ORIGINAL_COMMAND:-}
  case $cmd in
    'rsync --server '*) exec rrsync -wo -no-lock "$S" ;;
  esac
  set -f
  # shellcheck disable=SC2086
  set -- $cmd
  set +f
fi
verb=\${1:-}
[ $# -gt 0 ] && shift
for a in "$@"; do
  case $a in ''|*[!A-Za-z0-9._@:-]*) die usage "refused argument";; esac
done
is_gen() { case $1 in ''|0*|*[!0-9]*) return 1;; esac; return 0; }
is_num() { case $1 in ''|*[!0-9]*) return 1;; esac; return 0; }
now() { date +%s; }
sync_fs() { sync -f "$1" 2>/dev/null || sync; }
served() { c=$(readlink "$ROOT/current" 2>/dev/null) || return 0; echo "\${c##*/}"; }
holds() { [ -f "$ROOT/.lock/holder" ] && read -r t _ < "$ROOT/.lock/holder" && [ "$t" = "$1" ]; }
need_lock() { holds "$1" || die lost "the mirror lock is no longer held by this push"; }
stamp() {
  mkdir -p "$ROOT/meta/superseded" &&
  now > "$ROOT/meta/superseded/.$1.tmp" && mv -f "$ROOT/meta/superseded/.$1.tmp" "$ROOT/meta/superseded/$1"
}
show_lock() {
  [ -d "$ROOT/.lock" ] || return 0
  if [ -f "$ROOT/.lock/holder" ] && read -r t h p since beat < "$ROOT/.lock/holder"; then
    echo "lock $t $h $p $since $(( $(now) - beat ))"
  else
    echo "lock - - - - -"
  fi
}
hello() {
  [ $# -eq 1 ] || die usage "hello REPO"
  if [ ! -d "$ROOT" ]; then mkdir -p "$ROOT" 2>/dev/null || die notwritable "cannot create $ROOT"; fi
  if [ ! -f "$ROOT/.rcurepo-mirror" ]; then
    [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || die notmirror "$ROOT is not empty and is not an rcurepo mirror"
    { mkdir -p "$S" "$ROOT/meta/superseded" &&
      printf 'format %s\\nrepo %s\\n' "$FORMAT" "$1" > "$ROOT/.rcurepo-mirror.tmp" &&
      mv -f "$ROOT/.rcurepo-mirror.tmp" "$ROOT/.rcurepo-mirror"; } 2>/dev/null || die notwritable "cannot write in $ROOT"
  fi
  f=$(sed -n 's/^format //p' "$ROOT/.rcurepo-mirror")
  [ "$f" = "$FORMAT" ] || die format "$ROOT is a mirror of format version \${f:-unknown}; this rcurepo writes version $FORMAT"
  r=$(sed -n 's/^repo //p' "$ROOT/.rcurepo-mirror")
  [ "$r" = "$1" ] || die otherrepo "$ROOT mirrors repository '$r', not '$1'"
  t=$ROOT/.rcurepo-write-test.$$
  { mkdir "$t" && rmdir "$t"; } 2>/dev/null || die notwritable "$ROOT is not writable"
  { mkdir "$S/.write-test.$$" && rmdir "$S/.write-test.$$"; } 2>/dev/null || die notwritable "$S is not writable"
  echo "format $FORMAT"
  c=$(served); [ -n "$c" ] && echo "current $c"
  for d in "$S"/* "$S"/.*.partial; do
    n=\${d##*/}
    case $n in
      .*.partial) g=\${n#.}; g=\${g%.partial}; is_gen "$g" && [ -d "$d" ] && echo "partial $g" ;;
      *) is_gen "$n" && [ -d "$d" ] && echo "snapshot $n" ;;
    esac
  done
  show_lock
  return 0
}
begin() {
  # One round trip to start a push: hello, then (unless the mirror already serves GEN or newer) the lock.
  [ $# -eq 5 ] && is_gen "$2" || die usage "begin REPO GEN TOKEN HOST PID"
  h=$(hello "$1") || { echo "$h"; exit 3; }
  c=$(served)
  if [ -n "$c" ] && [ "$c" -ge "$2" ]; then
    echo "$h"; echo uptodate; return 0
  fi
  out=$(lock "$3" "$4" "$5") || { echo "$out"; exit 3; }
  [ "$out" = locked ] && prepare "$2" "$3"
  h=$(hello "$1") || { echo "$h"; exit 3; }
  echo "$h" | grep -v '^lock '
  echo "$out"
}
prepare() {
  # Start the upload as a hard-link copy of the snapshot served (or the newest older one): rsync then only
  # checks unchanged files, which costs far less than letting it link each one through --link-dest. rsync
  # replaces a changed file by a new inode (temp name + rename); it would change a shared inode in place
  # only for a path that kept its size and mtime but changed mode or owner, which snapshots never do
  # (an unchanged path is the same pool file; a changed one is a new file with a new mtime).
  g=$1
  [ -e "$S/.$g.partial" ] || [ -e "$S/$g" ] && return 0
  p=$(served)
  if [ -z "$p" ] || [ ! -d "$S/$p" ]; then
    p=$(for d in "$S"/*; do x=\${d##*/}; is_gen "$x" && [ -d "$d" ] && [ "$x" -lt "$g" ] && echo "$x"; done | sort -n | tail -n 1)
  fi
  [ -n "$p" ] || return 0
  # The copy the previous push left in the background (spare below): one rename, no waiting for cp -al.
  # A maker still at work on it is waited for rather than raced by a second copy of the same tree.
  n=0
  while [ ! -d "$S/.spare-$p" ] && maker_alive "$p" && [ "$n" -lt 1200 ]; do sleep 0.1 2>/dev/null || sleep 1; n=$((n + 1)); done
  if [ -d "$S/.spare-$p" ] && holds "$2" && [ ! -e "$S/.$g.partial" ] && mv "$S/.spare-$p" "$S/.$g.partial" 2>/dev/null; then
    echo "prepared $p spare"
    return 0
  fi
  t=$S/.$g.prep.$$
  # A pusher killed mid-copy leaves its shell running here: it must not install its copy once the lock
  # has been broken and taken by the next pusher (token check, and never over an existing upload).
  if cp -al "$S/$p" "$t" 2>/dev/null && holds "$2" && [ ! -e "$S/.$g.partial" ] && mv "$t" "$S/.$g.partial"; then
    echo "prepared $p"
  else
    rm -rf "$t" # no cp -al here (or superseded): rsync's --link-dest does the linking
  fi
  return 0
}
finish() {
  [ $# -eq 4 ] || die usage "finish GEN KEEP GRACE TOKEN"
  activate "$1" "$4"
  prune "$2" "$3" "$4"
  unlock "$4"
  spare "$1"
}
maker_alive() {
  for m in "$S"/.spare-"$1".making.*; do
    [ -d "$m" ] && kill -0 "\${m##*.}" 2>/dev/null && return 0
  done
  return 1
}
spare() {
  # In the background, after the push has returned: a hard-link copy of the snapshot now served, flushed
  # to disk, so that the next push starts from it with one rename (prepare) instead of waiting for cp -al
  # and, at activation, for the flush of that copy's directory entries. A spare costs directory inodes
  # only (files are hard links); prune drops a spare of anything but the served snapshot.
  g=$1
  [ -d "$S/$g" ] && [ ! -e "$S/.spare-$g" ] && ! maker_alive "$g" || return 0
  nohup sh -c 't="$1/.spare-$2.making.$$"
    mkdir "$t" || exit 0
    if cp -al "$1/$2/." "$t/" 2>/dev/null && { sync -f "$t" 2>/dev/null || sync; } && [ ! -e "$1/.spare-$2" ]; then
      mv "$t" "$1/.spare-$2" 2>/dev/null || rm -rf "$t"
    else
      rm -rf "$t"
    fi' sh "$S" "$g" </dev/null >/dev/null 2>&1 &
  # Return once the maker's folder exists: whoever looks next sees a maker at work, never a gap.
  m=$!; n=0
  while [ ! -d "$S/.spare-$g.making.$m" ] && [ ! -d "$S/.spare-$g" ] && kill -0 "$m" 2>/dev/null && [ "$n" -lt 200 ]; do
    sleep 0.01 2>/dev/null || sleep 1; n=$((n + 1))
  done
  return 0
}
lock() {
  [ $# -eq 3 ] || die usage "lock TOKEN HOST PID"
  if mkdir "$ROOT/.lock" 2>/dev/null; then
    n=$(now)
    printf '%s %s %s %s %s\\n' "$1" "$2" "$3" "$n" "$n" > "$ROOT/.lock/holder.tmp" &&
      mv -f "$ROOT/.lock/holder.tmp" "$ROOT/.lock/holder" || die io "cannot write $ROOT/.lock/holder"
    echo locked
  else
    [ -d "$ROOT/.lock" ] || die notwritable "cannot create $ROOT/.lock"
    show_lock
  fi
}
refresh() {
  [ $# -eq 1 ] || die usage "refresh TOKEN"
  need_lock "$1"
  read -r t h p since _ < "$ROOT/.lock/holder"
  printf '%s %s %s %s %s\\n' "$t" "$h" "$p" "$since" "$(now)" > "$ROOT/.lock/holder.tmp" &&
    mv -f "$ROOT/.lock/holder.tmp" "$ROOT/.lock/holder"
  echo refreshed
}
unlock() {
  [ $# -eq 1 ] || die usage "unlock TOKEN"
  if holds "$1"; then
    mv "$ROOT/.lock" "$ROOT/.lock-gone.$$" && rm -rf "$ROOT/.lock-gone.$$"
  fi
  echo unlocked
}
breaklock() {
  # Remove the lock only if it is still the one judged stale (TOKEN, or '-' for one without a holder).
  [ $# -eq 1 ] || die usage "breaklock TOKEN"
  [ -d "$ROOT/.lock" ] || { echo gone; return 0; }
  mv "$ROOT/.lock" "$ROOT/.lock-stale.$$" 2>/dev/null || { echo gone; return 0; }
  t=-
  [ -f "$ROOT/.lock-stale.$$/holder" ] && read -r t _ < "$ROOT/.lock-stale.$$/holder"
  if [ "$t" != "$1" ]; then
    # Someone else's lock: give it back (unless a new one already took the name).
    [ -e "$ROOT/.lock" ] || mv "$ROOT/.lock-stale.$$" "$ROOT/.lock"
    rm -rf "$ROOT/.lock-stale.$$"
    echo busy
    return 0
  fi
  rm -rf "$ROOT/.lock-stale.$$"
  echo broken
}
activate() {
  [ $# -eq 2 ] && is_gen "$1" || die usage "activate GEN TOKEN"
  need_lock "$2"
  g=$1
  if [ -d "$S/.$g.partial" ]; then
    [ -e "$S/$g" ] && die exists "$S/$g already exists"
    sync_fs "$S/.$g.partial"
    mv "$S/.$g.partial" "$S/$g" || die io "cannot rename $S/.$g.partial"
  elif [ ! -d "$S/$g" ]; then
    die missing "$S/.$g.partial is missing"
  fi
  old=$(served)
  sync_fs "$S"
  ln -s "snapshots/$g" "$ROOT/.current.$$" || die io "cannot create a symlink in $ROOT"
  if ! mv -T "$ROOT/.current.$$" "$ROOT/current" 2>/dev/null; then
    mv -fh "$ROOT/.current.$$" "$ROOT/current" 2>/dev/null || { rm -f "$ROOT/.current.$$"; die io "cannot swap $ROOT/current (needs mv -T or mv -h)"; }
  fi
  if [ -n "$old" ] && [ "$old" != "$g" ]; then stamp "$old"; fi
  sync_fs "$ROOT"
  echo "active $g"
}
prune() {
  [ $# -eq 3 ] && is_num "$1" && is_num "$2" || die usage "prune KEEP GRACE TOKEN"
  need_lock "$3"
  keep=$1; grace=$2; cur=$(served); n=$(now); i=0
  for g in $(for d in "$S"/*; do x=\${d##*/}; is_gen "$x" && [ -d "$d" ] && echo "$x"; done | sort -rn); do
    i=$((i + 1))
    [ "$g" = "$cur" ] && continue
    [ "$i" -le "$keep" ] && continue
    [ -n "$cur" ] && [ "$g" -gt "$cur" ] && continue
    f=$ROOT/meta/superseded/$g
    t=; [ -f "$f" ] && t=$(cat "$f")
    case $t in ''|*[!0-9]*) stamp "$g"; continue;; esac
    [ $((n - t)) -lt "$grace" ] && continue
    mv "$S/$g" "$S/.trash-$g" && rm -rf "$S/.trash-$g" && rm -f "$f" && echo "pruned $g"
  done
  for d in "$S"/.*.partial; do
    x=\${d##*/}; g=\${x#.}; g=\${g%.partial}
    is_gen "$g" && [ -n "$cur" ] && [ "$g" -lt "$cur" ] && rm -rf "$d" && echo "dropped $g"
  done
  for d in "$S"/.trash-* "$S"/.*.prep.*; do [ -e "$d" ] && rm -rf "$d"; done
  for d in "$S"/.spare-*; do
    [ -d "$d" ] || continue
    x=\${d##*/.spare-}
    case $x in
      *.making.*) kill -0 "\${x##*.}" 2>/dev/null || rm -rf "$d" ;;
      *) [ "$x" = "$cur" ] || rm -rf "$d" ;;
    esac
  done
  return 0
}
case $verb in
  hello|begin|finish|lock|refresh|unlock|breaklock|activate|prune) "$verb" "$@" ;;
  *) die usage "unknown command '$verb'" ;;
esac
`;
