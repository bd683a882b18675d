# Sourced by scripts/test.sh --sanitize and scripts/fuzz.sh: runtime options of ASan, UBSan and LSan.
# The project is instrumented; LibTorch, OpenBLAS, HDF5, ICU and PCRE2 come prebuilt from Debian and are not.
# ASan still checks every access the project makes and owns malloc for the whole process (tcmalloc is not linked
# into sanitized builds). Options set here:
#   abort_on_error / halt_on_error  a finding fails the test (UBSan is also built with -fno-sanitize-recover=all)
#   allocator_may_return_null      malloc of an impossible size (HDF5 asks for 2^50 bytes from a corrupt header)
#                                  returns NULL, as glibc does and HDF5 handles, instead of aborting; C++ new still
#                                  reports, and libFuzzer's -malloc_limit_mb still flags any large allocation
#   detect_stack_use_after_return   catches references to dead stack frames (a lambda's captured locals)
#   check_initialization_order      static initializers that read other translation units' globals
#   strict_string_checks            str* interceptors check the whole string, not only the bytes read
# Not set, on purpose: detect_container_overflow (libstdc++ has no annotations unless _GLIBCXX_SANITIZE_VECTOR,
# so nothing to switch off) and new_delete_type_mismatch (no report seen with the uninstrumented libtorch).
# Suppressions (third-party code only, each with its reason) are in tests/sanitizers/.
sanitizer_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/sanitizers" && pwd)"
export ASAN_OPTIONS="abort_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$sanitizer_dir/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$sanitizer_dir/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Symbolized stacks (file:line) for clang's and gcc's runtimes alike.
if command -v llvm-symbolizer-14 >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14); fi
