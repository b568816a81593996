// Graceful stop on SIGINT/SIGTERM for long-running commands (serve), safe when libraries have
// started threads of their own before main (OpenBLAS does, at load) that do not block signals.
#pragma once

namespace idphoto::cli {

// Installs handlers for SIGINT and SIGTERM that only write the signal number to a pipe, so a
// stop signal delivered to ANY thread (ours or a library's) is turned into a message instead of
// killing the process. Returns false when the pipe or sigaction fails (errno set).
bool install_stop_signal_handlers();

// Blocks until a stop signal arrives or wake_stop_waiter() is called. Returns SIGINT or SIGTERM,
// or 0 when woken. Call from one thread only.
int wait_for_stop_signal();

// Makes wait_for_stop_signal() return 0 (e.g. the server stopped on its own). Never fails.
void wake_stop_waiter();

}  // namespace idphoto::cli
