// Prometheus text exposition (format 0.0.4) of the server's counters: requests by route and
// status, request and clean durations as histograms, queue depth, resident memory.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "app/dispatcher.hpp"
#include "app/worker_pool.hpp"

namespace idphoto::server {

class metrics {
 public:
  // Thread-safe. route is the route's pattern ("/api/id-cards/{id}"), never a raw path.
  void count_request(const std::string& route, int status, double seconds);
  void observe_clean(double seconds, bool ok);
  // The whole exposition, with the pool's gauges and the process's resident memory.
  std::string render(const app::pool_stats& pool, const app::dispatcher_stats& jobs) const;

  static constexpr std::array<double, 12> k_buckets_s = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60};

 private:
  struct histogram {
    std::array<uint64_t, k_buckets_s.size()> le{};  // non-cumulative; summed when rendered
    uint64_t count = 0;
    double sum = 0;
    void observe(double s);
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, histogram> request_seconds_;
  histogram clean_seconds_;
  uint64_t cleans_ok_ = 0, cleans_failed_ = 0;
};

}  // namespace idphoto::server
