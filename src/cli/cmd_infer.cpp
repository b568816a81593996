// `idphoto infer`: runs a model on a raw float32 NCHW tensor file and writes one
// output as raw float32. For tests (the ONNX Runtime oracle) and benchmarks.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/memory_stats.hpp"
#include "cli/args.hpp"
#include "infer/session.hpp"

namespace idphoto::cli {

namespace {

const char* help =
    "usage: idphoto infer --model PATH --input IN.f32 --shape 1,3,H,W --output OUT.f32\n"
    "         [--output-name NAME] [--backend onednn|reference] [--threads N]\n"
    "         [--weights streamed|resident] [--repeat N] [--no-retarget]\n"
    "Reads raw little-endian float32 NCHW, writes the named output (default: the first)\n"
    "as raw float32, prints one JSON line of timings and memory.\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "idphoto: error: %s\n", msg.c_str());
  return 1;
}

bool parse_shape(const std::string& s, infer::shape_t& out) {
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    char* end = nullptr;
    long long v = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end || v <= 0 || v > (1 << 20)) return false;
    out.push_back(v);
  }
  return !out.empty();
}

std::string json_shape(const infer::shape_t& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

int cmd_infer(const std::vector<std::string>& argv) {
  auto a = parse_args(
      argv,
      {"--model", "--input", "--shape", "--output", "--output-name", "--backend", "--threads", "--weights", "--repeat"},
      {"--no-retarget", "--help"});
  if (!a.ok()) return fail(a.err().detail + "\n" + help);
  if (a->has("--help")) {
    std::fputs(help, stdout);
    return 0;
  }
  for (const char* k : {"--model", "--input", "--shape", "--output"})
    if (!a->has(k)) return fail(std::string(k) + " is required\n" + help);
  infer::shape_t shape;
  if (!parse_shape(a->get("--shape"), shape))
    return fail("--shape must be comma-separated positive integers, got '" + a->get("--shape") + "'");
  auto threads = a->get_int("--threads", 0, 0, 1024);
  if (!threads.ok()) return fail(threads.err().detail);
  auto repeat = a->get_int("--repeat", 1, 1, 1000);
  if (!repeat.ok()) return fail(repeat.err().detail);

  infer::session_options o;
  const std::string backend = a->get("--backend", "onednn");
  if (backend == "onednn") o.backend = infer::backend_kind::onednn;
  else if (backend == "reference") o.backend = infer::backend_kind::reference;
  else return fail("--backend must be onednn or reference");
  const std::string weights = a->get("--weights", "streamed");
  if (weights == "streamed") o.weights = infer::weights_mode::streamed;
  else if (weights == "resident") o.weights = infer::weights_mode::resident;
  else return fail("--weights must be streamed or resident");
  o.n_threads = static_cast<int>(*threads);
  o.retarget_resize = !a->has("--no-retarget");

  auto m = infer::load_model(a->get("--model"));
  if (!m.ok()) return fail(m.err().to_string());
  if (a->has("--output-name")) o.outputs = {a->get("--output-name")};
  else o.outputs = {(*m)->outputs.at(0).name};

  infer::tensor x = infer::tensor::zeros(infer::dtype::f32, shape);
  {
    std::ifstream f(a->get("--input"), std::ios::binary | std::ios::ate);
    if (!f) return fail("cannot open input '" + a->get("--input") + "'");
    const auto size = static_cast<size_t>(f.tellg());
    if (size != x.bytes.size())
      return fail("input '" + a->get("--input") + "' has " + std::to_string(size) + " bytes; shape " +
                  json_shape(shape) + " needs " + std::to_string(x.bytes.size()));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(x.bytes.data()), static_cast<std::streamsize>(size));
  }
  const std::string input_name = (*m)->inputs.empty() ? "" : (*m)->inputs[0].name;
  auto s = infer::session::create(*m, o);
  if (!s.ok()) return fail(s.err().to_string());
  std::vector<double> run_ms;
  double plan_ms = 0;
  std::vector<infer::named_tensor> outs;
  std::vector<infer::named_tensor> inputs = {{input_name, std::move(x)}};
  for (long long r = 0; r < *repeat; ++r) {
    auto res = (*s)->run(inputs);
    if (!res.ok()) return fail(res.err().to_string());
    if (r == 0) plan_ms = (*s)->last_stats().plan_ms;
    run_ms.push_back((*s)->last_stats().run_ms);
    outs = std::move(*res);
  }
  const infer::tensor& y = outs.at(0).t;
  {
    std::ofstream f(a->get("--output"), std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(y.bytes.data()), static_cast<std::streamsize>(y.bytes.size()));
    if (!f) return fail("cannot write '" + a->get("--output") + "'");
  }
  std::vector<double> sorted = run_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const auto& st = (*s)->last_stats();
  std::printf(
      "{\"model\":\"%s\",\"shape\":%s,\"output\":\"%s\",\"output_shape\":%s,\"backend\":\"%s\",\"weights\":\"%s\","
      "\"threads\":%d,"
      "\"plan_ms\":%.1f,\"run_ms\":[",
      a->get("--model").c_str(), json_shape(shape).c_str(), outs[0].name.c_str(), json_shape(y.shape).c_str(),
      backend.c_str(), weights.c_str(), o.n_threads, plan_ms);
  for (size_t i = 0; i < run_ms.size(); ++i) std::printf("%s%.1f", i ? "," : "", run_ms[i]);
  std::printf(
      "],\"median_ms\":%.1f,\"arena_bytes\":%lld,\"resident_weight_bytes\":%lld,\"scratch_bytes\":%lld,\"model_weight_"
      "bytes\":%lld,"
      "\"steps\":%d,\"peak_rss_bytes\":%lld}\n",
      median, static_cast<long long>(st.arena_bytes), static_cast<long long>(st.resident_weight_bytes),
      static_cast<long long>(st.scratch_bytes), static_cast<long long>((*m)->initializer_bytes), st.n_steps,
      static_cast<long long>(base::peak_rss_bytes()));
  return 0;
}

}  // namespace idphoto::cli
