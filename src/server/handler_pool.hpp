// The threads that run route handlers: a fixed number (IDPHOTO_HTTP_THREADS) and a queue of
// complete requests. Connections wait in the event loop, never here, so the queue holds at most
// one job per open connection.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace idphoto::server {

class handler_pool {
 public:
  explicit handler_pool(int threads);
  ~handler_pool();  // drain()
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;

  // Runs job on a pool thread; false (job not run) after drain().
  bool submit(std::function<void()> job);
  // Runs every job submitted so far, then joins the threads.
  void drain();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace idphoto::server
