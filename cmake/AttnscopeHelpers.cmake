# Shared CMake helpers for attnscope targets.

# Turns on the project's warning set for a target.
# A dropped [[nodiscard]] result is an error: a HookHandle thrown away removes its hook at once.
function(attnscope_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Werror=unused-result)
endfunction()

# Links tcmalloc into an executable that runs the model: tcmalloc keeps freed large blocks for reuse, while with
# glibc malloc every attention block of tens of MB is a fresh mmap whose page faults cost more than the
# arithmetic on it (measured 40x on a 64 MB softmax here). A choice of each executable, never a library's usage
# requirement. Sanitized builds go without it: ASan must own malloc (cmake/AttnscopeSanitizers.cmake).
function(attnscope_use_tcmalloc target)
  if(ATTNSCOPE_WITH_TCMALLOC)
    find_library(TCMALLOC_MINIMAL NAMES tcmalloc_minimal REQUIRED)
    target_link_libraries(${target} PRIVATE "-Wl,--no-as-needed" ${TCMALLOC_MINIMAL} "-Wl,--as-needed")
  endif()
endfunction()

# Builds, links and registers one GoogleTest file: attnscope_add_test(test_name LABELS unit LIBS ...).
# The source is tests/unit/<test_name>.cpp unless SOURCES is given.
function(attnscope_add_test name)
  cmake_parse_arguments(ARG "" "" "LABELS;LIBS;SOURCES;FIXTURES;ENV" ${ARGN})
  if(NOT ARG_SOURCES)
    set(ARG_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/${name}.cpp)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  attnscope_warnings(${name})
  if("attnscope::core" IN_LIST ARG_LIBS)
    # Reuse the core's precompiled torch header: each torch test file then compiles in seconds, not ~25 s.
    target_precompile_headers(${name} REUSE_FROM attnscope_core)
    attnscope_use_tcmalloc(${name})  # the model's tests allocate attention blocks as the CLI does
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "ATTNSCOPE_TEST_DATA=${CMAKE_CURRENT_BINARY_DIR}/data;ATTNSCOPE_SOURCE_DIR=${PROJECT_SOURCE_DIR};${ARG_ENV}")
  if(ARG_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
endfunction()

# Builds, links and registers one QtTest file tests/gui/<name>.cpp, run offscreen with the label gui:
# attnscope_add_gui_test(tst_name LIBS ... [FIXTURES ...] [ENV ...]).
function(attnscope_add_gui_test name)
  cmake_parse_arguments(ARG "" "" "LIBS;FIXTURES;ENV" ${ARGN})
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} attnscope_gui_testdata Qt6::Test)
  set_target_properties(${name} PROPERTIES AUTOMOC ON)
  attnscope_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS gui
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${ARG_ENV}")
  if(ARG_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
endfunction()

# Builds one libFuzzer harness tests/fuzz/<name>.cpp and registers the replay of its committed seed corpus
# tests/fuzz/corpus/<name> as a ctest with the label fuzz: attnscope_add_fuzzer(fuzz_name LIBS ...).
# -runs=0 executes every corpus file once and stops, so the replay is a regression test, not a fuzzing run.
function(attnscope_add_fuzzer name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  attnscope_warnings(${name})
  add_test(NAME ${name}_replay COMMAND ${name} -runs=0 -rss_limit_mb=2048 -malloc_limit_mb=256
           ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
  set_tests_properties(${name}_replay PROPERTIES LABELS fuzz)
endfunction()
