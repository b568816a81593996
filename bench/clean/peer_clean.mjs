// Runs the peer background remover (@imgly/background-removal-node, ISNet on ONNX Runtime) over
// a folder of photos, so bench/clean can score and time it beside idphoto.
//
// usage: node bench/clean/peer_clean.mjs IN_DIR_OR_FILE OUT_DIR [--mask] [--model medium|small]
//                                        [--limit N]
//   writes  OUT_DIR/<stem>.png: the RGBA cut-out the peer encodes, or with --mask an 8-bit grey
//           PNG of its alpha (same size as the stored input pixels)
//   prints  one JSON line per photo {file, ms, cpu_ms, ok, error[, width, height with --mask]},
//           then one summary line {summary: true, n, ok, failed, median_ms, median_cpu_ms,
//           mean_ms, load_ms, peak_rss_kb, ...}; cpu_ms is user + system time of all threads,
//           which a busy machine inflates far less than wall time
//   exit    0 when every photo succeeded, 1 when any failed, 2 on bad usage or no peer
// Needs bench/npm/setup. The peer is AGPL-3.0: it runs here as a separate process, nothing of it
// is linked into or copied to idphoto.
//
// What one photo's "ms" covers: read the file, decode (sharp), the peer's own bilinear resize to
// 1024x1024, ONNX Runtime inference, resize of the mask back, encode (sharp PNG) and write the
// file: file in, encoded file out, as a user of the peer sees it. Model loading is excluded: it
// is done once by a warm-up run on a small generated image and reported as load_ms.
//
// Network: the peer reads its model from publicPath with fetch() for http(s) URLs and readFile()
// for file:// URLs. publicPath is set to the package's own dist/ folder as a file:// URL (its
// default is a path relative to the working directory), and global fetch is replaced by one that
// throws, so an attempt to download anything fails loudly instead of going out.
import { createRequire } from 'node:module';
import { readFile, writeFile, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const npm_dir = path.resolve(here, '../npm');
const image_exts = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp']);

function usage(msg) {
  if (msg) console.error(`peer_clean: ${msg}`);
  console.error('usage: node peer_clean.mjs IN_DIR_OR_FILE OUT_DIR [--mask] [--model medium|small] [--limit N]');
  process.exit(2);
}

function parse_args(argv) {
  const opts = { mask: false, model: 'medium', limit: 0, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mask') opts.mask = true;
    else if (a === '--model') opts.model = argv[++i];
    else if (a === '--limit') opts.limit = Number(argv[++i]);
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 2) usage();
  if (!['medium', 'small'].includes(opts.model)) usage('--model must be medium or small (the package ships no "large")');
  if (!Number.isInteger(opts.limit) || opts.limit < 0) usage('--limit must be a whole number');
  return opts;
}

async function list_inputs(in_path, limit) {
  const st = await stat(in_path);
  let files;
  if (st.isDirectory()) {
    files = (await readdir(in_path))
      .filter((f) => image_exts.has(path.extname(f).toLowerCase()))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .map((f) => path.join(in_path, f));
  } else {
    files = [in_path];
  }
  return limit > 0 ? files.slice(0, limit) : files;
}

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

// CPU time (user + system, all threads of the process) since `start`, in ms.
function cpu_ms_since(start) {
  const d = process.cpuUsage(start);
  return round1((d.user + d.system) / 1000);
}

async function main() {
  const opts = parse_args(process.argv.slice(2));
  const [in_path, out_dir] = opts.positional;

  let require_peer, imgly, sharp;
  try {
    require_peer = createRequire(path.join(npm_dir, 'package.json'));
    imgly = require_peer('@imgly/background-removal-node');
    sharp = require_peer('sharp');
  } catch (e) {
    console.error(`peer_clean: cannot load the peer from ${npm_dir}/node_modules (run bench/npm/setup): ${e.message}`);
    process.exit(2);
  }
  const dist_dir = path.dirname(require_peer.resolve('@imgly/background-removal-node'));
  const peer_pkg = JSON.parse(await readFile(path.join(dist_dir, '..', 'package.json'), 'utf8'));

  globalThis.fetch = async (url) => {
    throw new Error(`peer_clean: network fetch refused: ${url}`);
  };

  const base_config = {
    publicPath: pathToFileURL(dist_dir).href + '/',
    model: opts.model,
  };
  // The peer memoizes its ONNX session on JSON.stringify(config): the warm-up must use a config
  // that serialises identically to the one used per photo, so both modes use one config object.
  const config = opts.mask
    ? { ...base_config, output: { format: 'image/x-rgba8', quality: 0.8 } }
    : { ...base_config, output: { format: 'image/png', quality: 0.8 } };

  const files = await list_inputs(in_path, opts.limit);
  await mkdir(out_dir, { recursive: true });

  // Warm-up: loads the model and builds the session on a 64x64 grey image.
  const t_load = performance.now();
  const warm = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
  await imgly.removeBackground(new Blob([warm], { type: 'image/png' }), config);
  const load_ms = performance.now() - t_load;

  const times = [];
  const cpu_times = [];
  let failed = 0;
  for (const file of files) {
    const stem = path.parse(file).name;
    const out_file = path.join(out_dir, `${stem}.png`);
    const row = { file: path.basename(file), ms: null, cpu_ms: null, ok: false, error: null };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    try {
      const bytes = await readFile(file);
      // A Blob without a type is refused by the peer's decoder; octet-stream goes to sharp.
      const blob = await imgly.removeBackground(new Blob([bytes], { type: 'application/octet-stream' }), config);
      if (opts.mask) {
        // x-rgba8 is the raw RGBA cut-out, its type carrying width and height.
        const params = Object.fromEntries(
          blob.type.split(';').slice(1).map((p) => p.split('=').map((s) => s.trim()))
        );
        const width = Number(params.width);
        const height = Number(params.height);
        const rgba = new Uint8Array(await blob.arrayBuffer());
        const alpha = Buffer.alloc(width * height);
        for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3];
        // Without toColourspace('b-w') sharp writes one grey channel as RGB.
        await sharp(alpha, { raw: { width, height, channels: 1 } })
          .toColourspace('b-w')
          .png()
          .toFile(out_file);
        row.width = width;
        row.height = height;
      } else {
        await writeFile(out_file, Buffer.from(await blob.arrayBuffer()));
      }
      row.ms = round1(performance.now() - t0);
      row.cpu_ms = cpu_ms_since(cpu0);
      row.ok = true;
      times.push(row.ms);
      cpu_times.push(row.cpu_ms);
    } catch (e) {
      row.ms = round1(performance.now() - t0);
      row.cpu_ms = cpu_ms_since(cpu0);
      row.error = String(e && e.message ? e.message : e);
      failed++;
    }
    console.log(JSON.stringify(row));
  }

  const summary = {
    summary: true,
    peer: `${peer_pkg.name}@${peer_pkg.version}`,
    model: opts.model,
    output: opts.mask ? 'mask' : 'rgba',
    n: files.length,
    ok: times.length,
    failed,
    median_ms: round1(median(times)),
    median_cpu_ms: round1(median(cpu_times)),
    mean_ms: times.length ? round1(times.reduce((a, b) => a + b, 0) / times.length) : null,
    load_ms: round1(load_ms),
    peak_rss_kb: process.resourceUsage().maxRSS,
  };
  console.log(JSON.stringify(summary));
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`peer_clean: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
