#!/usr/bin/env bash
# Time the peer (@imgly/background-removal-node 1.4.5, model medium) end to end, file in to
# encoded PNG cut-out out, and measure the peak RSS of its whole node process.
#
# usage: bench/clean/peer_speed.sh [--n N] [--megapixels-photo FILE]
#   --n                  photos of fasseg_frontal02 in the batch run (default 20, at least 20)
#   --megapixels-photo   the large JPEG to use (default: made from a fasseg photo, 3000x4000,
#                        12 MP, in ${TMPDIR:-/tmp}/idphoto-peer-speed; never in the repo)
# Prints a markdown table and writes bench/clean/results/peer_speed.{json,md} (numbers only).
# Needs: bench/npm/setup, /usr/bin/time (apt: time), /usr/bin/python3 with python3-pil.
#
# Method: two processes, each under `/usr/bin/time -v`.
#   batch   one process runs the peer over the first N fasseg photos; per photo the script
#           reports read + decode + inference + encode + write (model load excluded, done by a
#           warm-up); the median is reported. Peak RSS is the process's maximum resident set.
#   12 MP   one process runs the peer on the single 12 MP JPEG: its per-photo time, and the wall
#           time of the whole process (node start + model load + the photo), and its peak RSS.
# Both are end to end as a user of the peer sees them. The machine may be shared: the 1-, 5-
# and 15-minute load averages before and after are recorded beside the numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/clean"
. "$root/bench/clean/shared_dir.sh"
set_dir="$shared/eval/sets/fasseg_frontal02/images"
py=/usr/bin/python3
n=20
big=""
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --megapixels-photo) big=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "peer_speed: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$n" -ge 20 ] || { echo "peer_speed: --n must be at least 20" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "peer_speed: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -d "$set_dir" ] || { echo "peer_speed: no $set_dir (shared/ must sit beside the repo)" >&2; exit 2; }

"$root/bench/npm/setup" >&2
work=${TMPDIR:-/tmp}/idphoto-peer-speed
rm -rf "$work/batch_out" "$work/big_out" "$work/big_in"
mkdir -p "$work/batch_out" "$work/big_out" "$work/big_in" "$here/results"

if [ -z "$big" ]; then
  big="$work/big_in/fasseg_12mp.jpg"
  "$py" - "$set_dir" "$big" <<'EOF'
import os, sys
from PIL import Image
src_dir, dst = sys.argv[1:3]
first = sorted(f for f in os.listdir(src_dir) if f.endswith('.png'))[0]
im = Image.open(os.path.join(src_dir, first)).convert('RGB')
im.resize((3000, 4000), Image.LANCZOS).save(dst, quality=90)
EOF
else
  cp "$big" "$work/big_in/"
  big="$work/big_in/$(basename "$big")"
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)

echo "peer_speed: batch of $n fasseg photos" >&2
/usr/bin/time -v -o "$work/batch.time" \
  node "$here/peer_clean.mjs" "$set_dir" "$work/batch_out" --limit "$n" > "$work/batch.jsonl"
echo "peer_speed: one 12 MP JPEG" >&2
/usr/bin/time -v -o "$work/big.time" \
  node "$here/peer_clean.mjs" "$big" "$work/big_out" > "$work/big.jsonl"
load_after=$(load)

"$py" - "$work" "$big" "$here/results" "$load_before" "$load_after" <<'EOF'
import json, os, re, subprocess, sys, time
from PIL import Image
work, big, results, load_before, load_after = sys.argv[1:6]

def time_v(path):
    text = open(path).read()
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', text).group(1))
    wall = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)', text).group(1)
    secs = 0.0
    for part in wall.split(':'):
        secs = secs * 60 + float(part)
    return rss, secs

def jsonl(path):
    rows = [json.loads(l) for l in open(path)]
    return rows[:-1], rows[-1]

b_rows, b_sum = jsonl(os.path.join(work, 'batch.jsonl'))
g_rows, g_sum = jsonl(os.path.join(work, 'big.jsonl'))
b_rss, b_wall = time_v(os.path.join(work, 'batch.time'))
g_rss, g_wall = time_v(os.path.join(work, 'big.time'))
w, h = Image.open(big).size
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
out = {
    'what': 'peer end-to-end speed and peak RSS (bench/clean/peer_speed.sh)',
    'peer': b_sum['peer'], 'model': b_sum['model'],
    'batch': {'photos': b_sum['n'], 'ok': b_sum['ok'], 'median_s': b_sum['median_ms'] / 1000,
              'median_cpu_s': b_sum['median_cpu_ms'] / 1000,
              'mean_s': b_sum['mean_ms'] / 1000,
              'min_s': min(r['ms'] for r in b_rows if r['ok']) / 1000,
              'max_s': max(r['ms'] for r in b_rows if r['ok']) / 1000,
              'load_s': b_sum['load_ms'] / 1000, 'process_wall_s': b_wall,
              'peak_rss_mib': round(b_rss / 1024)},
    'big': {'file': os.path.basename(big), 'width': w, 'height': h,
            'megapixels': round(w * h / 1e6, 1), 'ok': g_rows[0]['ok'], 'error': g_rows[0]['error'],
            'photo_s': g_rows[0]['ms'] / 1000, 'photo_cpu_s': g_rows[0]['cpu_ms'] / 1000,
            'load_s': g_sum['load_ms'] / 1000,
            'process_wall_s': g_wall, 'peak_rss_mib': round(g_rss / 1024)},
    'machine': {'nproc': os.cpu_count(), 'cpu': cpu,
                'node': subprocess.run(['node', '-v'], capture_output=True, text=True).stdout.strip(),
                'loadavg_before': load_before, 'loadavg_after': load_after},
    'date_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
}
json.dump(out, open(os.path.join(results, 'peer_speed.json'), 'w'), indent=1)
b, g = out['batch'], out['big']
md = f"""| peer run ({out['peer']}, model {out['model']}) | s per photo | CPU s per photo | process wall s | peak RSS MiB |
|---|---|---|---|---|
| batch, {b['photos']} fasseg photos (~354x512 PNG), median (min-max) | {b['median_s']:.2f} ({b['min_s']:.2f}-{b['max_s']:.2f}) | {b['median_cpu_s']:.2f} | {b['process_wall_s']:.1f} (model load {b['load_s']:.1f}) | {b['peak_rss_mib']} |
| one {g['width']}x{g['height']} JPEG ({g['megapixels']} MP) | {g['photo_s']:.2f} | {g['photo_cpu_s']:.2f} | {g['process_wall_s']:.1f} (model load {g['load_s']:.1f}) | {g['peak_rss_mib']} |

s per photo: read + decode + inference + encode PNG cut-out + write, model load excluded.
CPU s: user + system time of all the process's threads over the same span.
Machine: {out['machine']['nproc']} cores, {cpu}, node {out['machine']['node']}; load average
before {load_before}, after {load_after} (a load above {out['machine']['nproc']} means other work shared the cores).
"""
if not g['ok']:
    md += f"\nThe 12 MP photo failed: {g['error']}\n"
open(os.path.join(results, 'peer_speed.md'), 'w').write(md)
print(md)
EOF
