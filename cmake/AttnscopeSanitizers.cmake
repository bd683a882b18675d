# Sanitizer and fuzzer instrumentation for every target of the project (never for third-party libraries, which
# come prebuilt from Debian: LibTorch, HDF5, Qt, OpenBLAS).
#   -DATTNSCOPE_SANITIZE=address,undefined   ASan + UBSan with gcc or clang (scripts/test.sh --sanitize)
#   -DATTNSCOPE_BUILD_FUZZERS=ON             clang only: libFuzzer harnesses of tests/fuzz (scripts/fuzz.sh)

set(ATTNSCOPE_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list for every target, e.g. address,undefined")
option(ATTNSCOPE_BUILD_FUZZERS "Build the libFuzzer harnesses under tests/fuzz (clang; implies address,undefined)" OFF)

if(ATTNSCOPE_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ATTNSCOPE_BUILD_FUZZERS needs clang (libFuzzer): configure with CXX=clang++-14 CC=clang-14")
  endif()
  if(NOT ATTNSCOPE_SANITIZE)
    set(ATTNSCOPE_SANITIZE "address,undefined" CACHE STRING "" FORCE)
  endif()
  # Coverage counters in every project object, so the harnesses see edges inside the parsers; the libFuzzer
  # driver itself (-fsanitize=fuzzer) is linked into the harnesses only, leaving main() to the unit tests.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(ATTNSCOPE_SANITIZE)
  # Findings must fail the test that triggers them: UBSan otherwise prints and carries on.
  # -g1 (line tables) is enough for symbolized stacks and keeps the torch translation units' debug info small.
  add_compile_options(-fsanitize=${ATTNSCOPE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=${ATTNSCOPE_SANITIZE} -fno-sanitize-recover=all)
endif()

# tcmalloc replaces malloc; ASan must own malloc to find anything, so the sanitized builds leave it out.
if(ATTNSCOPE_SANITIZE)
  set(ATTNSCOPE_WITH_TCMALLOC OFF)
else()
  set(ATTNSCOPE_WITH_TCMALLOC ON)
endif()
