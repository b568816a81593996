// SIGINT/SIGTERM as messages through a self-pipe (see stop_signal.hpp).
//
// Why not sigwait with the signals blocked: blocking only covers threads created after the mask
// is set. OpenBLAS (Debian's default BLAS, pulled in through OpenCV's LAPACK) starts its thread
// pool in a library constructor, before main, with nothing blocked; the kernel then delivers a
// process-directed SIGTERM to one of those threads and its default action ends the process
// without a graceful stop. A handler applies whichever thread receives the signal; it does the
// one async-signal-safe thing needed (write a byte) and the waiter thread does the rest.
#include "cli/stop_signal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace idphoto::cli {

namespace {

int stop_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &b, 1);  // full pipe: a stop is already pending
  errno = saved;
}

}  // namespace

bool install_stop_signal_handlers() {
  if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC) != 0) return false;
  fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, nullptr) != 0 || sigaction(SIGTERM, &sa, nullptr) != 0) return false;
  // A mask inherited from the parent (or set earlier) would keep the handler from ever running.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  return true;
}

int wait_for_stop_signal() {
  unsigned char b = 0;
  for (;;) {
    const ssize_t n = read(stop_pipe[0], &b, 1);
    if (n == 1) return b;
    if (n < 0 && errno == EINTR) continue;
    return 0;  // closed or broken: treat as woken
  }
}

void wake_stop_waiter() {
  const unsigned char b = 0;
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &b, 1);
}

}  // namespace idphoto::cli
