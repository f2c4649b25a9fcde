#!/usr/bin/env bash
# End-to-end checks of the brisk binary on the demo model: what a user types and sees.
# Usage: cli_test.sh BRISK_BINARY SOURCE_DIR
set -uo pipefail
brisk=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
contains() { grep -q -- "$2" "$1"; }

# --help explains every subcommand.
"$brisk" --help > "$tmp/help" 2>&1
check "help exits 0" test $? -eq 0
for sub in generate chat eval; do check "help lists $sub" contains "$tmp/help" "$sub"; done
"$brisk" generate --help > "$tmp/ghelp" 2>&1
for flag in --model --prompt --prompt-ids --max-tokens --temperature --top-p --seed --print-ids; do
  check "generate --help lists $flag" contains "$tmp/ghelp" "$flag"
done

# Greedy ids from a token-id prompt equal transformers' continuation (models/brisk-tiny/reference.json).
read -r prompt_ids expected < <(python3 -c '
import json,sys
g=json.load(open(sys.argv[1]))["greedy"]
print(",".join(map(str,g["prompt_ids"])), ",".join(map(str,g["output_ids"])))' "$src/models/brisk-tiny/reference.json")
n=$(echo "$expected" | tr ',' '\n' | wc -l)
"$brisk" generate --prompt-ids "$prompt_ids" --max-tokens "$n" --temperature 0 --print-ids --ignore-eos \
  > "$tmp/ids" 2> "$tmp/ids.err"
check "generate --print-ids exits 0" test $? -eq 0
check "greedy ids equal transformers' ($expected)" test "$(cat "$tmp/ids")" = "$expected"
check "timing goes to stderr" contains "$tmp/ids.err" "decode: .* tok/s"

# The same continuation from the text prompt, as text: the prompt text encodes to the same ids.
"$brisk" generate --prompt "It is a truth universally acknowledged" --max-tokens "$n" --temperature 0 \
  --ignore-eos > "$tmp/text" 2>/dev/null
check "text generation prints text" test -s "$tmp/text"

# Seeded sampling is reproducible.
for i in 1 2; do
  "$brisk" generate --prompt "The" --max-tokens 20 --temperature 1.0 --seed 42 --print-ids \
    --ignore-eos > "$tmp/seed$i" 2>/dev/null
done
check "same seed, same output" cmp -s "$tmp/seed1" "$tmp/seed2"

# Bad input: clear message, non-zero exit, no crash.
"$brisk" generate --prompt-ids "1,x,3" > /dev/null 2> "$tmp/bad_ids"
check "bad id list exits 2" test $? -eq 2
check "bad id list names the item" contains "$tmp/bad_ids" "'x'"
"$brisk" generate --prompt-ids "1,99999" > /dev/null 2> "$tmp/oov"
check "out-of-vocabulary id exits 1" test $? -eq 1
check "out-of-vocabulary id is explained" contains "$tmp/oov" "outside the vocabulary"
"$brisk" generate --prompt "x" --max-tokens 5000 > /dev/null 2> "$tmp/long"
check "too many tokens is explained with the numbers" contains "$tmp/long" "beyond the model's context of 2048"
"$brisk" generate --model "$tmp" --prompt "x" > /dev/null 2> "$tmp/nomodel"
check "folder without a model exits non-zero" test $? -ne 0
check "folder without a model names config.json" contains "$tmp/nomodel" "config.json"
"$brisk" generate > /dev/null 2> "$tmp/noprompt"
check "missing prompt is explained" contains "$tmp/noprompt" "needs --prompt"
"$brisk" generate --prompt x --temperature -1 > /dev/null 2> "$tmp/badtemp"
check "negative temperature is refused" contains "$tmp/badtemp" "temperature"

# Perplexity on a short text prints a finite number.
head -c 20000 "$src/models/brisk-tiny/README.md" > "$tmp/text.txt"
"$brisk" eval perplexity --text "$tmp/text.txt" --context 256 > "$tmp/ppl" 2>/dev/null
check "eval perplexity prints a perplexity" grep -Eq '^perplexity [0-9]+\.[0-9]+ over [0-9]+ tokens' "$tmp/ppl"

# The prompt loop of `make run`: reads lines until EOF.
printf 'It is a truth\n\n/quit\n' | "$brisk" chat --max-tokens 8 > "$tmp/chat" 2> "$tmp/chat.err"
check "chat exits 0 on /quit" test $? -eq 0
check "chat echoes the prompt and continues it" contains "$tmp/chat" "It is a truth"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
