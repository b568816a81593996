# libFuzzer (IDPHOTO_FUZZ, the fuzz preset; fuzz/README.md). clang only: the whole tree the
# targets link is compiled with coverage instrumentation for libFuzzer (fuzzer-no-link), ASan
# and UBSan (a UBSan report aborts, so libFuzzer records it as a crash); the targets themselves
# link -fsanitize=fuzzer (fuzz/CMakeLists.txt). The tests are not built in that tree.
if(IDPHOTO_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "IDPHOTO_FUZZ needs clang (libFuzzer): cmake --preset fuzz")
  endif()
  if(IDPHOTO_SANITIZE OR IDPHOTO_TSAN)
    message(FATAL_ERROR "IDPHOTO_FUZZ sets its own sanitizers (ASan + UBSan): leave IDPHOTO_SANITIZE and IDPHOTO_TSAN off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
