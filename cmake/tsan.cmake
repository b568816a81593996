# ThreadSanitizer (IDPHOTO_TSAN, the tsan preset). The whole tree is compiled with
# -fsanitize=thread, but only the tests of the threaded code are built and run: the ones named
# in IDPHOTO_TSAN_TESTS carry the CTest label "tsan" (idphoto_add_test in tests/CMakeLists.txt,
# tests/db/CMakeLists.txt) and the tsan build preset builds only those targets. They run with a
# stub clean engine (no model): oneDNN and libgomp synchronise with futexes TSan cannot see, so
# inference would only report false positives. Runtime options and the suppressions (third-party
# false positives only, each explained there): cmake/tsan.supp, set in the tsan test preset.
if(IDPHOTO_TSAN)
  if(IDPHOTO_SANITIZE)
    message(FATAL_ERROR "IDPHOTO_TSAN and IDPHOTO_SANITIZE cannot be combined (TSan excludes ASan)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
# The worker pool and config (test_app), the job dispatcher, the HTTP server without the model,
# and both repositories (SQLite and PostgreSQL). Keep in step with the tsan build preset's targets.
set(IDPHOTO_TSAN_TESTS test_app test_dispatcher test_server test_db test_jobs)
