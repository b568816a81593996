// Counters and histograms kept in memory and rendered as Prometheus text on /metrics.
#include "server/metrics.hpp"

#include <cstdio>

#include "base/memory_stats.hpp"

namespace idphoto::server {

void metrics::histogram::observe(double s) {
  for (size_t i = 0; i < k_buckets_s.size(); ++i)
    if (s <= k_buckets_s[i]) {
      ++le[i];
      break;
    }
  ++count;
  sum += s;
}

void metrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
  request_seconds_[route].observe(seconds);
}

void metrics::observe_clean(double seconds, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  clean_seconds_.observe(seconds);
  ++(ok ? cleans_ok_ : cleans_failed_);
}

namespace {
std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}
// Route patterns are ours (no quotes or backslashes), but escape anyway.
std::string label(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}
void render_histogram(std::string& out, const std::string& name, const std::string& labels, const auto& h) {
  uint64_t cum = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < metrics::k_buckets_s.size(); ++i) {
    cum += h.le[i];
    out +=
        name + "_bucket{" + labels + sep + "le=\"" + num(metrics::k_buckets_s[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  const std::string l = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + l + " " + num(h.sum) + "\n";
  out += name + "_count" + l + " " + std::to_string(h.count) + "\n";
}
}  // namespace

std::string metrics::render(const app::pool_stats& pool, const app::dispatcher_stats& jobs) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP idphoto_http_requests_total HTTP requests answered, by route pattern and status.\n";
  out += "# TYPE idphoto_http_requests_total counter\n";
  for (const auto& [k, n] : requests_)
    out += "idphoto_http_requests_total{route=\"" + label(k.first) + "\",status=\"" + std::to_string(k.second) +
           "\"} " + std::to_string(n) + "\n";
  out += "# HELP idphoto_http_request_duration_seconds Time from routing to the response, by route pattern.\n";
  out += "# TYPE idphoto_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : request_seconds_)
    render_histogram(out, "idphoto_http_request_duration_seconds", "route=\"" + label(route) + "\"", h);
  out += "# HELP idphoto_clean_duration_seconds Processing time of one clean on a worker (decode to encode).\n";
  out += "# TYPE idphoto_clean_duration_seconds histogram\n";
  render_histogram(out, "idphoto_clean_duration_seconds", "", clean_seconds_);
  out += "# HELP idphoto_cleans_total Cleans run, by result.\n# TYPE idphoto_cleans_total counter\n";
  out += "idphoto_cleans_total{result=\"ok\"} " + std::to_string(cleans_ok_) + "\n";
  out += "idphoto_cleans_total{result=\"failed\"} " + std::to_string(cleans_failed_) + "\n";
  out += "# HELP idphoto_queue_depth Jobs submitted and waiting for a worker.\n# TYPE idphoto_queue_depth gauge\n";
  out += "idphoto_queue_depth " + std::to_string(pool.queued) + "\n";
  out +=
      "# HELP idphoto_jobs_admitted Jobs holding a place (waiting, running, or storing), out of "
      "idphoto_jobs_capacity.\n# TYPE idphoto_jobs_admitted gauge\n";
  out += "idphoto_jobs_admitted " + std::to_string(pool.admitted) + "\n";
  out += "# HELP idphoto_jobs_capacity Workers plus queue places.\n# TYPE idphoto_jobs_capacity gauge\n";
  out += "idphoto_jobs_capacity " + std::to_string(pool.capacity) + "\n";
  out += "# HELP idphoto_jobs_running Cleans running now.\n# TYPE idphoto_jobs_running gauge\n";
  out += "idphoto_jobs_running " + std::to_string(pool.running) + "\n";
  out += "# HELP idphoto_workers Inference workers (each holds one model).\n# TYPE idphoto_workers gauge\n";
  out += "idphoto_workers " + std::to_string(pool.n_workers) + "\n";
  out +=
      "# HELP idphoto_photo_jobs_total Photo jobs this instance ran, by how the run ended (retried: our "
      "failure, queued again).\n# TYPE idphoto_photo_jobs_total counter\n";
  for (const auto& [name, n] : {std::pair<const char*, int64_t>{"done", jobs.done},
                                {"failed", jobs.failed},
                                {"retried", jobs.retried},
                                {"dead", jobs.dead}})
    out += std::string("idphoto_photo_jobs_total{outcome=\"") + name + "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP idphoto_photo_jobs_requeued_total Expired leases (a killed worker's jobs) this instance put back "
      "in the queue.\n# TYPE idphoto_photo_jobs_requeued_total counter\n";
  out += "idphoto_photo_jobs_requeued_total " + std::to_string(jobs.requeued) + "\n";
  out +=
      "# HELP idphoto_photo_jobs_lost_total Outcomes dropped because the job's lease had been taken over.\n"
      "# TYPE idphoto_photo_jobs_lost_total counter\n";
  out += "idphoto_photo_jobs_lost_total " + std::to_string(jobs.lost) + "\n";
  out +=
      "# HELP idphoto_photo_jobs_running Photo jobs this instance is running now.\n"
      "# TYPE idphoto_photo_jobs_running gauge\n";
  out += "idphoto_photo_jobs_running " + std::to_string(jobs.running) + "\n";
  out +=
      "# HELP idphoto_resident_memory_bytes Resident set size of the process (VmRSS).\n# TYPE "
      "idphoto_resident_memory_bytes gauge\n";
  out += "idphoto_resident_memory_bytes " + std::to_string(base::current_rss_bytes()) + "\n";
  out +=
      "# HELP idphoto_peak_resident_memory_bytes Peak resident set size of the process (VmHWM).\n# TYPE "
      "idphoto_peak_resident_memory_bytes gauge\n";
  out += "idphoto_peak_resident_memory_bytes " + std::to_string(base::peak_rss_bytes()) + "\n";
  return out;
}

}  // namespace idphoto::server
