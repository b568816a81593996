// A one-line progress bar on stderr, shown only when stderr is a terminal.
#pragma once
#include <cstddef>
#include <string>

namespace idphoto::cli {

class progress {
 public:
  // Off when on is false, total <= 1, or stderr is not a TTY.
  progress(size_t total, bool on);
  // Redraws: done of total, the mean seconds per item, the current item's name.
  void show(size_t done, const std::string& name, double avg_s);
  // Erases the line (before printing a message, and at the end).
  void clear();

 private:
  size_t total_;
  bool on_;
};

}  // namespace idphoto::cli
