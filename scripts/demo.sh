#!/usr/bin/env bash
# The main job end to end on the shipped fixtures: a base, a `files` repository, an eopkg repository
# and a signed deb repository (with a real apt-get update) created, packages imported, indexes written
# and verified, history and status shown.
set -euo pipefail
cd "$(dirname "$0")/.."
export RCUREPO_BASE="${RCUREPO_DEMO_BASE:-$PWD/demo-base}"
rcurepo() { node bin/rcurepo.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$RCUREPO_BASE"
step "init $RCUREPO_BASE"
rcurepo init

step "a generic 'files' repository"
rcurepo create-repo releases
rcurepo import releases fixtures/files --prefix 1.0
rcurepo import releases fixtures/files --prefix 1.0   # identical content: publishes nothing
rcurepo import releases 'fixtures/files/tools/*.tar' --prefix 1.1/tools
rcurepo remove releases 1.0/docs
rcurepo history releases
rcurepo diff releases 2 4
step "mirrors check the served tree with coreutils"
(cd "$RCUREPO_BASE/repos/releases/current" && sha256sum --quiet -c SHA256SUMS && echo "SHA256SUMS: all $(wc -l < SHA256SUMS) files OK")

step "an eopkg repository (Solus)"
rcurepo create-repo unstable --format eopkg
rcurepo set-assets unstable --distribution fixtures/eopkg/distribution.xml --components fixtures/eopkg/components.xml --groups fixtures/eopkg/groups.xml
rcurepo import unstable fixtures/eopkg/*.eopkg
rcurepo list unstable
cur="$RCUREPO_BASE/repos/unstable/current"
step "the index the eopkg client fetches: checksum companions and xz agree"
[ "$(sha1sum < "$cur/eopkg-index.xml.xz" | cut -c1-40)" = "$(head -c40 "$cur/eopkg-index.xml.xz.sha1sum")" ] && echo "eopkg-index.xml.xz.sha1sum matches"
xz -t "$cur/eopkg-index.xml.xz" && echo "eopkg-index.xml.xz is a valid xz stream"
# Counted, not assumed: one top-level <Package> element per listed package (the obsoletes inside
# <Distribution> are <Package> elements too, and deltas have a <PackageURI> of their own), checked
# against the tips `rcurepo list` names.
listed=$(grep -c '^    <Package>$' "$cur/eopkg-index.xml")
tips=$(rcurepo list unstable --json | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s).packages.filter((p)=>p.tip).length))')
[ "$listed" -eq "$tips" ] || { echo "index lists $listed packages, list shows $tips tips" >&2; exit 1; }
xz -dc "$cur/eopkg-index.xml.xz" | cmp - "$cur/eopkg-index.xml" && echo "it decompresses to eopkg-index.xml ($listed packages listed, the $tips tips)"

step "promote from unstable into stable (links only), with the dependency closure"
rcurepo create-repo stable --format eopkg
rcurepo promote unstable stable wenqu --with-deps --dry-run
rcurepo promote unstable stable wenqu --with-deps
rcurepo pull unstable stable --dry-run
rcurepo freeze stable --reason "sync window closed"
rcurepo pull unstable stable || echo "(refused while frozen, exit $?)"
rcurepo unfreeze stable

step "readers: a leased snapshot, gc preview, HTTP"
rcurepo with-snapshot unstable -- sh -c 'echo "reading generation in $RCUREPO_SNAPSHOT"; sha1sum eopkg-index.xml.xz | cut -c1-40'
rcurepo gc --dry-run
port=$(( 20000 + RANDOM % 20000 ))
node bin/rcurepo.js serve --listen "127.0.0.1:$port" > "$RCUREPO_BASE/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT   # never left running when a later step fails
node -e '
  const url = process.argv[1];
  const get = (n) => fetch(url).then(async (r) => {
    const body = Buffer.from(await r.arrayBuffer());
    console.log(`GET ${url}: ${r.status}, ${body.length} bytes, generation ${r.headers.get("x-rcurepo-generation")}, etag ${r.headers.get("etag")}`);
  }).catch((e) => (n > 0 ? new Promise((res) => setTimeout(res, 100)).then(() => get(n - 1)) : Promise.reject(e)));
  get(50);' "http://127.0.0.1:$port/unstable/eopkg-index.xml.xz"
kill -TERM "$server"; wait "$server" || true

step "rollback publishes a new generation with old content"
rcurepo rollback releases 2
rcurepo history releases

step "a signed Debian (apt) repository, and a real apt-get update against it"
node --import tsx fixtures/gen-deb.ts --out "$RCUREPO_BASE/debs" --count 12 --seed demo --versions 2 --archs amd64,arm64
rcurepo create-repo apt --format deb --dist bookworm --suite stable --components main --architectures amd64,arm64 --origin Demo --label Demo
signed=no
if command -v gpg >/dev/null 2>&1; then
  export GNUPGHOME="$RCUREPO_BASE/gnupg"; mkdir -m 700 "$GNUPGHOME"
  # Later steps (verify) start gpg again: stop this home's agent whenever the demo ends.
  trap 'gpgconf --kill gpg-agent 2>/dev/null || true' EXIT
  gpg --batch --passphrase '' --quick-gen-key 'Demo archive <demo@example.invalid>' ed25519 sign never 2>/dev/null
  fpr=$(gpg --with-colons --list-secret-keys | awk -F: '/^fpr/ {print $10; exit}')
  rcurepo config apt signGnupgHome "$GNUPGHOME"
  rcurepo config apt signKeys "$fpr"
  gpg --export "$fpr" > "$RCUREPO_BASE/demo-archive-keyring.gpg"
  signed=yes
else
  echo "*** gpg not installed: the deb repository stays unsigned (apt uses [trusted=yes]) ***"
fi
rcurepo import apt "$RCUREPO_BASE/debs"
rcurepo list apt | head -8
cur="$RCUREPO_BASE/repos/apt/current"
ls "$cur/dists/bookworm"
if command -v apt-get >/dev/null 2>&1; then
  port=$(( 20000 + RANDOM % 20000 ))
  node bin/rcurepo.js serve --listen "127.0.0.1:$port" > "$RCUREPO_BASE/serve-apt.log" 2>&1 &
  server=$!
  A="$RCUREPO_BASE/apt-client"; mkdir -p "$A"/state/lists/partial "$A"/cache/archives/partial "$A"/etc/sources.list.d "$A"/etc/preferences.d "$A"/etc/apt.conf.d "$A"/log
  : > "$A/state/status"
  if [ "$signed" = yes ]; then opt="signed-by=$RCUREPO_BASE/demo-archive-keyring.gpg"; else opt="trusted=yes"; fi
  echo "deb [$opt] http://127.0.0.1:$port/apt/ stable main" | tee "$A/etc/sources.list"
  apt_o=(-o "Dir::State=$A/state" -o "Dir::State::status=$A/state/status" -o "Dir::Cache=$A/cache" -o "Dir::Etc::SourceList=$A/etc/sources.list"
    -o "Dir::Etc::SourceParts=$A/etc/sources.list.d" -o "Dir::Etc::Preferences=$A/etc/preferences" -o "Dir::Etc::PreferencesParts=$A/etc/preferences.d"
    -o "Dir::Etc::Parts=$A/etc/apt.conf.d" -o "Dir::Log=$A/log" -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none)
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/apt/dists/stable/Release" >/dev/null 2>&1 && break; sleep 0.1; done
  apt-get "${apt_o[@]}" update
  pkg=$(rcurepo list apt --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages[0].name))')
  apt-cache "${apt_o[@]}" policy "$pkg"
  kill -TERM "$server"; wait "$server" || true
  [ "$signed" = yes ] && gpgconf --kill gpg-agent || true
else
  echo "*** apt-get not installed: the apt client part of the demo is SKIPPED (run as root with apt, or .ci/run installs it) ***"
fi

step "verify (deep: re-hash every pool blob) and status"
rcurepo verify --deep
rcurepo status
