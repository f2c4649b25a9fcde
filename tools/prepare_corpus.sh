#!/usr/bin/env bash
# Builds the public-domain training corpus of the demo models from Debian packages
# (installed by `scripts/install-deps.sh --data`):
#   King James Bible (bible-kjv), World English Bible (sword-text-web via diatheke),
#   Jane Austen's novels (r-cran-janeaustenr), the Jargon File (jargon-text) and
#   The Devil's Dictionary (dict-devil).
# Persuasion is held out of training for perplexity. Output (git-ignored):
#   data/corpus/train/*.txt            one file per source
#   data/corpus/heldout-persuasion.txt
# Usage: tools/prepare_corpus.sh [OUT_DIR]   (default data/corpus)
set -euo pipefail
out=${1:-data/corpus}
mkdir -p "$out/train"

echo "prepare_corpus: King James Bible"
# "Ge1:1 In the beginning ..." -> verse text only.
bible -f 'gen1:1-rev22:21' | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' > "$out/train/kjv.txt"

echo "prepare_corpus: World English Bible"
diatheke -b engWEB2015eb -f plain -k Gen-Rev \
  | sed -E 's/^[1-3]? ?[A-Za-z ]+ [0-9]+:[0-9]+: //' | grep -v '^(engWEB2015eb)$' > "$out/train/web.txt"

echo "prepare_corpus: Jane Austen (Persuasion held out)"
Rscript -e '
  b <- janeaustenr::austen_books()
  for (name in unique(as.character(b$book))) {
    slug <- tolower(gsub("[^A-Za-z]+", "-", name))
    lines <- b$text[b$book == name]
    if (name == "Persuasion") path <- file.path(commandArgs(TRUE)[1], "heldout-persuasion.txt")
    else path <- file.path(commandArgs(TRUE)[1], "train", paste0("austen-", slug, ".txt"))
    writeLines(lines, path)
  }' "$out"

echo "prepare_corpus: Jargon File and Devil's Dictionary"
zcat /usr/share/doc/jargon-text/jargon.txt.gz > "$out/train/jargon.txt"
zcat /usr/share/dictd/devil.dict.dz > "$out/train/devil.txt"

wc -c "$out"/train/*.txt "$out/heldout-persuasion.txt"
