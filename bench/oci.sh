#!/usr/bin/env bash
# A container image into an initramfs: `nodistro build --from-oci` against
# the pipeline one would write otherwise, `umoci unpack` then `find | cpio
# -o -H newc | gzip -6`, side by side in one run on the same image, page
# cache warm for both.
# The image is made here from this machine's files: three gzip layers
# (/usr/lib/python3.11, /usr/share/perl, then a layer that whites out
# part of the first and replaces files), a Python entrypoint.
# Usage: bench/oci.sh [RUNS]   (default 3; the median is shown)
# Needs: cargo build --release --workspace --bins; umoci, cpio, gzip, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
REL=target/x86_64-unknown-linux-gnu/release
RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "oci.sh: RUNS must be a positive number, not $RUNS" >&2; exit 2; }
for p in umoci cpio gzip python3; do command -v $p >/dev/null || { echo "oci.sh: install $p" >&2; exit 1; }; done
[[ -x $REL/nodistro && -x $REL/nodistro-box ]] || { echo "run: cargo build --release --workspace --bins"; exit 1; }
OUT=$(mktemp -d /tmp/nodistro-bench-oci.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$OUT/layout" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
def layer(fill):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        fill(t)
    raw = buf.getvalue()
    return raw, gzip.compress(raw, 6, mtime=0)
def tree(src, dest):
    def fill(t):
        t.add(src, arcname=dest, recursive=True)
    return fill
def top(t):
    wh = tarfile.TarInfo("usr/lib/python3.11/.wh.email"); t.addfile(wh, io.BytesIO(b""))
    op = tarfile.TarInfo("usr/lib/python3.11/json/.wh..wh..opq"); t.addfile(op, io.BytesIO(b""))
    data = b"print('hello')\n"
    f = tarfile.TarInfo("srv/app.py"); f.size = len(data); t.addfile(f, io.BytesIO(data))
    py = open("/usr/bin/python3.11", "rb").read()
    b = tarfile.TarInfo("usr/bin/python3"); b.size = len(py); b.mode = 0o755; t.addfile(b, io.BytesIO(py))
    # What python3.11 links: the loader, libc, libm, libz, libexpat.
    l = tarfile.TarInfo("lib64"); l.type = tarfile.SYMTYPE; l.linkname = "usr/lib64"; t.addfile(l)
    t.add(os.path.realpath("/lib64/ld-linux-x86-64.so.2"), arcname="usr/lib64/ld-linux-x86-64.so.2")
    for so in ["libc.so.6", "libm.so.6", "libz.so.1", "libexpat.so.1"]:
        t.add(os.path.realpath("/usr/lib/x86_64-linux-gnu/" + so), arcname="usr/lib/x86_64-linux-gnu/" + so)
layers = [layer(tree("/usr/lib/python3.11", "usr/lib/python3.11")),
          layer(tree("/usr/share/perl", "usr/share/perl")), layer(top)]
descs, diffs = [], []
for raw, gz in layers:
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    d, n = put(gz)
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
cfg = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/usr/bin/python3"], "Cmd": ["/srv/app.py"], "WorkingDir": "/srv"},
    "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
    "layers": descs}).encode()
md, mn = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
    open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
find "$OUT/layout" -type f -exec cat {} + >/dev/null   # warm the page cache

TIMEFORMAT='%R %U %S'
declare -A T C S
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() { # name, output file, shell command
  local name=$1 out=$2 cmd=$3 t ws=() cs=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT/bundle"
    t=$( { time bash -c "$cmd" >/dev/null 2>&1; } 2>&1 | tail -1)
    read -r real user sys <<<"$t"
    ws+=("$(awk -v r="$real" 'BEGIN { printf "%d", r * 1000 }')")
    cs+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')")
  done
  T[$name]=$(printf '%s\n' "${ws[@]}" | median)
  C[$name]=$(printf '%s\n' "${cs[@]}" | median)
  S[$name]=$(stat -c %s "$out")
}
run nodistro "$OUT/n.gz" "$REL/nodistro build --from-oci $OUT/layout --tools-dir $REL --drivers none --compression gzip --level 6 -o $OUT/n.gz"
run umoci-cpio-gzip "$OUT/u.gz" "umoci unpack --rootless --image $OUT/layout:latest $OUT/bundle && (cd $OUT/bundle/rootfs && find . | cpio -o -H newc --quiet | gzip -6 > $OUT/u.gz)"

echo "load average before: $LOAD"
echo "OCI image: 3 gzip layers, $(du -sm "$OUT/layout" | cut -f1) MB of blobs; $(nproc) cores; $(date -u +%F); median of $RUNS runs"
printf '%-16s %9s %9s %12s\n' contender "wall ms" "CPU ms" "bytes"
for k in nodistro umoci-cpio-gzip; do
  printf '%-16s %9d %9d %12d\n' "$k" "${T[$k]}" "${C[$k]}" "${S[$k]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "nodistro --from-oci: $(ratio "${T[nodistro]}" "${T[umoci-cpio-gzip]}")x the wall time of umoci unpack + cpio | gzip -6, $(ratio "${C[nodistro]}" "${C[umoci-cpio-gzip]}")x its CPU time, $(ratio "${S[nodistro]}" "${S[umoci-cpio-gzip]}")x its bytes (with the runtime box and /etc files in it)"
