#!/usr/bin/env bash
# Lists every string literal in core/, app/ and widgets/ (comments stripped) that spells a statistic name, a hook
# name (or a part of one) or a normalizer keyword or spec, and fails (exit 1) when one lies outside the
# vocabulary: attnscope/statistics.h, src/hook_names.cpp and attnscope/normalizer_spec.h are the one place each.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard core app widgets | grep -E '\.(h|cpp)$')
status=0
check() {  # check TITLE HOME REGEX: print the literals matching REGEX; fail on any outside HOME
  local found
  echo "== $1 (home: $2)"
  found=$(perl -ne 's{//.*}{}; print "$ARGV:$.: $_" if /'"$3"'/; close ARGV if eof' "${files[@]}")
  [[ -n "$found" ]] && echo "$found"
  if grep -v "^$2:" <<<"$found" | grep -q .; then status=1; fi
}
check "statistic names" core/include/attnscope/statistics.h \
  '"(max_prob|argmax|entropy|sink_mass|topk_mass|target_mass|multiplier|n_keys)"'
check "hook names" core/src/hook_names.cpp \
  '"[^"]*(blocks\.|\bhook_(resid_pre|resid_post|q|k|v|scores|multiplier|logits|pattern|z|normalized)\b)[^"]*"'
check "normalizer keywords and specs" core/include/attnscope/normalizer_spec.h \
  '"(softmax|ssmax|logn|temperature)(:[^"]*)?"|\b(ssmax|logn|temperature):[A-Za-z]+='
exit $status
