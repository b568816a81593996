#!/usr/bin/python3
"""Bookkeeping for bench/clean/run_peer_quality.sh: which photos a run covers, which of them
still need the peer, and the numbers-only result file.

A run's work dir holds part_<t>.jsonl files, one per peer_clean.mjs process (a part cut short
by a stop has rows but no summary line). Merging all parts lets a stopped run resume.

usage: peer_quality_parts.py todo   IMAGES_DIR WORK LIMIT   -> links the photos to run into
                                                               WORK/todo, prints their count
       peer_quality_parts.py merge  WORK MASKS_DIR          -> WORK/peer.jsonl (rows of the
                                                               covered photos) and GT link dirs
                                                               WORK/gt_attempted, WORK/gt_ok;
                                                               prints the number that failed
       peer_quality_parts.py report WORK SET LIMIT CUTOUT RESULT_JSON
"""
import glob, json, os, re, subprocess, sys, time

IMAGE_EXTS = {'.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp'}


def natural_key(name):
    # Same order as peer_clean.mjs (localeCompare with numeric: true) for names like 12.jpg.
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', name)]


def part_rows(work):
    rows, summaries = {}, []
    for part in sorted(glob.glob(os.path.join(work, 'part_*.jsonl'))):
        for line in open(part):
            r = json.loads(line)
            if r.get('summary'):
                summaries.append(r)
            else:
                rows[r['file']] = r
    return rows, summaries


def todo(images, work, limit):
    files = sorted((f for f in os.listdir(images) if os.path.splitext(f)[1].lower() in IMAGE_EXTS),
                   key=natural_key)
    if limit:
        files = files[:limit]
    with open(os.path.join(work, 'attempted.txt'), 'w') as fh:
        fh.write(''.join(f + '\n' for f in files))
    done, _ = part_rows(work)
    todo_dir = os.path.join(work, 'todo')
    os.makedirs(todo_dir, exist_ok=True)
    n = 0
    for f in files:
        if f not in done:
            os.symlink(os.path.join(images, f), os.path.join(todo_dir, f))
            n += 1
    print(n)


def merge(work, masks):
    attempted = open(os.path.join(work, 'attempted.txt')).read().split('\n')
    rows, summaries = part_rows(work)
    failed = 0
    for sub in ('gt_attempted', 'gt_ok'):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    with open(os.path.join(work, 'peer.jsonl'), 'w') as fh:
        for f in attempted:
            if f not in rows:
                continue
            r = rows[f]
            fh.write(json.dumps(r) + '\n')
            stem = os.path.splitext(f)[0]
            gt = os.path.join(masks, stem + '.png')
            os.symlink(gt, os.path.join(work, 'gt_attempted', stem + '.png'))
            if r['ok']:
                os.symlink(gt, os.path.join(work, 'gt_ok', stem + '.png'))
            else:
                failed += 1
        for s in summaries:
            fh.write(json.dumps(s) + '\n')
    print(failed)


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return None if not xs else xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def report(work, set_name, limit, cutout, result):
    rows = [json.loads(l) for l in open(os.path.join(work, 'peer.jsonl'))]
    photos = [r for r in rows if not r.get('summary')]
    parts = [r for r in rows if r.get('summary')]
    ok = [r for r in photos if r['ok']]
    timing = {
        'peer': parts[0]['peer'], 'model': parts[0]['model'],
        'n': len(photos), 'ok': len(ok), 'failed': len(photos) - len(ok),
        'median_ms': median([r['ms'] for r in ok]),
        'median_cpu_ms': median([r['cpu_ms'] for r in ok if r.get('cpu_ms') is not None]),
        'mean_ms': round(sum(r['ms'] for r in ok) / len(ok), 1) if ok else None,
        'load_ms': max(p['load_ms'] for p in parts),
        'peak_rss_kb': max(p['peak_rss_kb'] for p in parts),
        'runs': len(parts),
    }
    attempted = json.load(open(os.path.join(work, 'score_attempted.json')))
    ok_path = os.path.join(work, 'score_ok.json')
    out = {
        'what': 'peer quality on a shared eval set (bench/clean/run_peer_quality.sh)',
        'set': set_name,
        'photos': len(photos),
        'limit': int(limit) or None,
        'scored': 'peer PNG cut-out alpha (palette-quantised by the peer)' if cutout == '1'
                  else 'peer exact alpha as 8-bit grey mask (--mask)',
        'score': attempted['summary'],
        'score_note': 'failed photos count as all background (score.py rule)',
        'score_ok_only': json.load(open(ok_path))['summary'] if os.path.exists(ok_path) else None,
        'failures': [{'file': r['file'], 'error': r['error']} for r in photos if not r['ok']],
        'timing': timing,
        'timing_note': 'ms per photo = read + decode + infer + encode + write, model load excluded; '
                       'cpu_ms = CPU time of all threads; runs > 1 when resumed after a stop '
                       '(load_ms, peak_rss_kb: the largest over the runs that finished); '
                       'loadavg shows whether the machine was shared',
        'machine': {'nproc': os.cpu_count(),
                    'node': subprocess.run(['node', '-v'], capture_output=True, text=True).stdout.strip(),
                    'loadavg_at_end': open('/proc/loadavg').read().split()[:3]},
        'date_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'per_photo': [dict(stem=r['stem'], iou=round(r['iou'], 5), mae=round(r['mae'], 5),
                           sad=round(r['sad'], 3), edge_mae=round(r['edge_mae'], 5),
                           found=r['found']) for r in attempted['rows']],
    }
    with open(result, 'w') as fh:
        json.dump(out, fh, indent=1)
    s = out['score']
    print(f"{set_name}: {out['photos']} photos, {timing['ok']} ok, {timing['failed']} failed | "
          f"IoU {s['iou']:.4f}  MAE {s['mae']:.4f}  SAD {s['sad']:.2f}  edge-MAE {s['edge_mae']:.4f} | "
          f"median {timing['median_ms'] / 1000:.2f} s/photo (CPU {timing['median_cpu_ms'] / 1000:.2f} s), "
          f"load {timing['load_ms'] / 1000:.1f} s, peak RSS {timing['peak_rss_kb'] / 1024:.0f} MiB")
    if out['score_ok_only']:
        k = out['score_ok_only']
        print(f"  ok only ({k['pairs']}): IoU {k['iou']:.4f}  MAE {k['mae']:.4f}  SAD {k['sad']:.2f}  "
              f"edge-MAE {k['edge_mae']:.4f}")
    print(f"  -> {os.path.relpath(result)}")


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'todo':
        todo(args[0], args[1], int(args[2]))
    elif cmd == 'merge':
        merge(args[0], args[1])
    elif cmd == 'report':
        report(*args[:5])
    else:
        print(__doc__)
        sys.exit(2)
