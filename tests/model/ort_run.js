// Run one ONNX model with ONNX Runtime (npm onnxruntime-node, tests/benches only) on a raw float32
// tensor and write its `output` as raw float32: the oracle our own runtime is compared against.
//
// Usage: node ort_run.js MODEL IN.f32 1,3,H,W OUT.f32 [--threads N] [--repeat N] [--input-name NAME]
//        [--output-name NAME]
// Prints one JSON line: model, shape, output_shape, threads, load_ms, run_ms (one per repeat),
// median_ms, peak_rss_bytes. On failure: `ort_run: error: ...` on stderr and exit code 1.
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`ort_run: error: ${msg}\n`);
  process.exit(1);
}

function load_ort() {
  const dir = process.env.IDPHOTO_TEST_NPM || path.join(__dirname, '..', 'npm');
  try {
    return require(path.join(dir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    die(`cannot load onnxruntime-node from ${dir}/node_modules (run scripts/setup-test-npm): ${e.message}`);
  }
}

function parse_args(argv) {
  const opts = { threads: 2, repeat: 1, input_name: 'input', output_name: 'output' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--threads') opts.threads = Number(value());
    else if (a === '--repeat') opts.repeat = Number(value());
    else if (a === '--input-name') opts.input_name = value();
    else if (a === '--output-name') opts.output_name = value();
    else if (a.startsWith('--')) die(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 4) die('usage: node ort_run.js MODEL IN.f32 1,3,H,W OUT.f32 [--threads N] [--repeat N]');
  [opts.model, opts.input, opts.shape_text, opts.output] = pos;
  opts.shape = opts.shape_text.split(',').map(Number);
  if (opts.shape.some((d) => !Number.isInteger(d) || d <= 0)) die(`bad shape '${opts.shape_text}'`);
  if (!Number.isInteger(opts.threads) || opts.threads < 1) die('--threads must be a positive integer');
  if (!Number.isInteger(opts.repeat) || opts.repeat < 1) die('--repeat must be a positive integer');
  return opts;
}

function read_f32(file, shape) {
  const want = shape.reduce((a, b) => a * b, 1);
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    die(`cannot read ${file}: ${e.message}`);
  }
  if (buf.length !== want * 4) die(`${file} has ${buf.length} bytes, shape [${shape}] needs ${want * 4}`);
  // Copy into an aligned Float32Array (the Buffer may share an unaligned pool).
  const out = new Float32Array(want);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const opts = parse_args(process.argv.slice(2));
  const ort = load_ort();
  const data = read_f32(opts.input, opts.shape);

  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(opts.model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3, // errors only; ORT warns about graph outputs whose shape it cannot infer
    });
  } catch (e) {
    die(`cannot load ${opts.model}: ${e.message}`);
  }
  const load_ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!session.outputNames.includes(opts.output_name)) {
    die(`${opts.model} has no output '${opts.output_name}' (has ${session.outputNames.join(', ')})`);
  }

  const feeds = { [opts.input_name]: new ort.Tensor('float32', data, opts.shape) };
  const run_ms = [];
  let result;
  for (let r = 0; r < opts.repeat; r++) {
    const t = process.hrtime.bigint();
    try {
      result = await session.run(feeds, [opts.output_name]);
    } catch (e) {
      die(`run failed: ${e.message}`);
    }
    run_ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  // onnxruntime-node 1.20.1 answers a fetch list naming one output with the graph's FIRST
  // output when the named one is not first (seen with the face models); then fetch them all
  // and pick it (only in that case, so single-output timings and memory are unchanged).
  if (!result[opts.output_name]) {
    try {
      result = await session.run(feeds);
    } catch (e) {
      die(`run failed: ${e.message}`);
    }
  }
  const out = result[opts.output_name];
  if (!out) die(`ONNX Runtime returned no output '${opts.output_name}'`);
  if (out.type !== 'float32') die(`output '${opts.output_name}' is ${out.type}, not float32`);
  fs.writeFileSync(opts.output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));

  const round = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    model: opts.model,
    shape: opts.shape,
    output_shape: out.dims.map(Number),
    backend: 'onnxruntime-node',
    threads: opts.threads,
    load_ms: round(load_ms),
    run_ms: run_ms.map(round),
    median_ms: round(median(run_ms)),
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  }));
}

main().catch((e) => die(e.stack || String(e)));
