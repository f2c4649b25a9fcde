#!/usr/bin/env bash
# Builds the verse-aligned King James / World English Bible pairs that the demo embedder
# brisk-tiny-embed is trained and evaluated on, from Debian packages (bible-kjv and
# sword-text-web + diatheke, installed by `scripts/install-deps.sh --data`).
# Output (git-ignored): data/embed/pairs.tsv, one verse per row with a header row:
#   book_index (1..66, canonical order)  book  chapter  verse  kjv_text  web_text
# Only the 66 books of the Protestant canon are kept (the WEB module also holds the
# deuterocanon). A verse is kept only when both translations have non-empty text for it;
# verses that one side merges into a neighbour or omits are dropped and counted.
# Usage: tools/prepare_embed_pairs.sh [OUT_DIR]   (default data/embed)
set -euo pipefail
out=${1:-data/embed}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "prepare_embed_pairs: King James Bible"
bible -f 'gen1:1-rev22:21' > "$tmp/kjv.txt"
echo "prepare_embed_pairs: World English Bible"
diatheke -b engWEB2015eb -f plain -k Gen-Rev > "$tmp/web.txt"

python3 - "$tmp/kjv.txt" "$tmp/web.txt" "$out/pairs.tsv" <<'PY'
"""Parses both dumps, aligns them by (book, chapter, verse) and writes the TSV."""
import os
import re
import sys

# The 66 books in canonical order; the names written to the TSV.
BOOKS = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth",
    "1 Samuel", "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra",
    "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon",
    "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos",
    "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah",
    "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
    "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "1 Thessalonians",
    "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon", "Hebrews", "James",
    "1 Peter", "2 Peter", "1 John", "2 John", "3 John", "Jude", "Revelation",
]
# Books of the WEB module outside the 66 (its ecumenical edition); dropped by name so
# that an unexpected book name stops the script instead of shifting the alignment.
WEB_EXTRA = {"Tobit", "Judith", "Esther (Greek)", "Wisdom", "Sirach", "Baruch",
             "Prayer of Azariah", "Susanna", "Bel and the Dragon", "I Maccabees", "II Maccabees",
             "I Esdras", "Prayer of Manasses", "Additional Psalm", "III Maccabees",
             "II Esdras", "IV Maccabees"}

KJV_LINE = re.compile(r"^([1-3]?[A-Za-z]+)([0-9]+):([0-9]+) ?(.*)$")
# A verse header: "Genesis 1:1: text". Books named like "Esther (Greek)" exist only in the
# deuterocanon but must still be recognised as headers.
WEB_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z() ]*?) ([0-9]+):([0-9]+): ?(.*)$")
# Raw OSIS markup that leaks into a few empty verses, with the heading text it carries.
WEB_MARKUP = re.compile(r"<title[^>]*>.*?</title>|<[^>]*>")


def clean(text):
    return " ".join(text.replace("\t", " ").split())


def read_kjv(path):
    """Returns ([book names in order of first appearance], {(book, ch, v): text})."""
    order, verses = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            m = KJV_LINE.match(line)
            if not m:
                sys.exit(f"unexpected KJV line: {line[:80]!r}")
            book, ch, v, text = m.group(1), int(m.group(2)), int(m.group(3)), clean(m.group(4))
            if book not in order:
                order.append(book)
            verses.setdefault((book, ch, v), text)
    return order, verses


def read_web(path):
    """Returns ([book names in order], {(book, ch, v): text}, number of dropped lines).

    The dump has quirks that this undoes:
      - a verse runs from its header to the next header and may span several lines and
        paragraphs (poetry, quotations);
      - an indented header follows a heading line (psalm superscription, acrostic letter)
        that is not verse text; the dump also repeats a stale heading before every later
        indented header, so the line before an indented header is always dropped;
      - the glossary after the last verse (Revelation 22:21) is cut at the first blank line.
    """
    with open(path, encoding="utf-8") as f:
        lines = [WEB_MARKUP.sub("", line.rstrip("\n")) for line in f]
    order, verses, dropped = [], {}, 0
    key, parts = None, []

    def flush(body):
        if key is not None and key not in verses:
            verses[key] = clean(" ".join(body))

    for line in lines:
        m = WEB_HEADER.match(line)
        if not m:
            if line.strip() and line.strip() != "(engWEB2015eb)":
                parts.append(line)
            else:
                parts.append("")
            continue
        body = parts
        if line[:1].isspace():
            nonblank = [i for i, p in enumerate(body) if p]
            if nonblank and nonblank[-1] > 0:
                del body[nonblank[-1]]
                dropped += 1
        flush(body)
        book = m.group(1).strip()
        if book not in order:
            order.append(book)
        key, parts = (book, int(m.group(2)), int(m.group(3))), [m.group(4)]
    last = parts[:parts.index("")] if "" in parts else parts
    dropped += sum(1 for p in parts[len(last):] if p)
    flush(last)
    return order, verses, dropped


def main(kjv_path, web_path, out_path):
    kjv_order, kjv = read_kjv(kjv_path)
    web_order_all, web, web_dropped = read_web(web_path)
    unknown = [b for b in web_order_all if b not in WEB_EXTRA]
    if len(kjv_order) != 66 or len(unknown) != 66:
        sys.exit(f"expected 66 books on each side, got KJV {len(kjv_order)}, WEB {len(unknown)}: "
                 f"{unknown}")
    kjv_index = {b: i for i, b in enumerate(kjv_order)}
    web_index = {b: i for i, b in enumerate(unknown)}
    print("books (index, KJV, WEB, written as):")
    for i in range(66):
        print(f"  {i + 1:2d} {kjv_order[i]:5s} {unknown[i]:22s} {BOOKS[i]}")

    def by_index(verses, index):
        return {(index[b], ch, v): t for (b, ch, v), t in verses.items() if b in index and t}

    k, w = by_index(kjv, kjv_index), by_index(web, web_index)
    keys = sorted(set(k) & set(w))
    only_kjv = sorted(set(k) - set(w))
    only_web = sorted(set(w) - set(k))
    empty_kjv = sum(1 for (b, _, _), t in kjv.items() if not t)
    empty_web = sum(1 for (b, _, _), t in web.items() if b in web_index and not t)
    with open(out_path + ".tmp", "w", encoding="utf-8") as f:
        f.write("book_index\tbook\tchapter\tverse\tkjv_text\tweb_text\n")
        for key in keys:
            b, ch, v = key
            f.write(f"{b + 1}\t{BOOKS[b]}\t{ch}\t{v}\t{k[key]}\t{w[key]}\n")
    os.replace(out_path + ".tmp", out_path)

    def name(key):
        return f"{BOOKS[key[0]]} {key[1]}:{key[2]}"

    print(f"KJV verses: {len(k)} (empty {empty_kjv}); WEB verses in the 66 books: {len(w)} "
          f"(empty {empty_web}); WEB heading and glossary lines dropped: {web_dropped}")
    print(f"paired: {len(keys)}; only in KJV: {len(only_kjv)}; only in WEB: {len(only_web)}")
    if only_kjv:
        print("  only in KJV:", ", ".join(name(x) for x in only_kjv[:40]),
              "..." if len(only_kjv) > 40 else "")
    if only_web:
        print("  only in WEB:", ", ".join(name(x) for x in only_web[:40]),
              "..." if len(only_web) > 40 else "")
    print("sample rows:")
    for key in [keys[0], keys[len(keys) // 3], keys[len(keys) // 2], keys[-1]]:
        print(f"  {name(key)}\n    KJV: {k[key]}\n    WEB: {w[key]}")
    print(f"wrote {out_path}")


main(*sys.argv[1:])
PY
wc -l -c "$out/pairs.tsv"
