// Reference chat-template renderings for brisk's chat-template oracle test. Renders every
// template below with @huggingface/jinja (the engine transformers.js uses) for every
// conversation of the conversations file and writes one JSON document:
//   { now_s, templates: [{ name, dir, template_name, source, special_tokens,
//     renders: [{ conversation, context, output } or { conversation, context, error }] }] }
// `context` is exactly what the template saw, minus the strftime_now function, which returns
// the fixed instant `now_s` (UTC) so that brisk can be given the same one ("__brisk_now__").
// Usage: node render.mjs --root REPO_ROOT --conversations FILE.json --out FILE.json
import fs from "node:fs";
import path from "node:path";
import { Environment, Template } from "@huggingface/jinja";
import { modelDir, readJson } from "./oracle_common.mjs";

// 2026-11-25T13:45:07Z: a fixed "now" for strftime_now.
const NOW_S = 1795614307;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
  "cls_token", "mask_token"];

// The directives that both this oracle and C's strftime agree on, in UTC.
function strftimeNow(format) {
  const d = new Date(NOW_S * 1000);
  const pad2 = (n) => String(n).padStart(2, "0");
  const table = {
    "%Y": String(d.getUTCFullYear()), "%m": pad2(d.getUTCMonth() + 1), "%d": pad2(d.getUTCDate()),
    "%b": MONTHS[d.getUTCMonth()].slice(0, 3), "%B": MONTHS[d.getUTCMonth()],
    "%H": pad2(d.getUTCHours()), "%M": pad2(d.getUTCMinutes()), "%%": "%",
  };
  return format.replace(/%[YmdbBHM%]/g, (t) => table[t]);
}

// The engine declares its own strftime_now (local wall-clock time) before the render variables
// and refuses to declare a name twice; let the render variables replace that one global.
const declare = Environment.prototype.set;
Environment.prototype.set = function set(name, value) {
  if (name === "strftime_now") this.variables.delete(name);
  return declare.call(this, name, value);
};

function templateSpecs(root) {
  const spec = (name, dir, templateName = "") => ({ name, dir, template_name: templateName });
  return [
    ...["llama3", "llama3_1", "qwen3", "gemma3", "deepseek_v3"].map((n) => spec(n, modelDir(n))),
    spec("brisk_tiny", path.join(root, "models", "brisk-tiny")),
    spec("mistral_inst", path.join(root, "tests", "fixtures", "tokenizer", "templates", "mistral_inst")),
    spec("multi_named_default", path.join(root, "tests", "fixtures", "tokenizer", "templates", "multi_named"), "default"),
    spec("multi_named_tool_use", path.join(root, "tests", "fixtures", "tokenizer", "templates", "multi_named"), "tool_use"),
  ];
}

// The template source as transformers finds it: chat_template.jinja beside the config first,
// then chat_template.json, then the config's chat_template (a string, or a list of named ones).
function templateSource(dir, name) {
  const jinja = path.join(dir, "chat_template.jinja");
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, "utf8");
  const jsonFile = path.join(dir, "chat_template.json");
  const config = fs.existsSync(jsonFile) ? readJson(jsonFile) : readJson(path.join(dir, "tokenizer_config.json"));
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const wanted = name || "default";
    const found = t.find((e) => e.name === wanted);
    if (!found) throw new Error(`${dir}: no chat template named '${wanted}'`);
    return found.template;
  }
  throw new Error(`${dir}: no chat template`);
}

function specialTokens(dir) {
  const config = readJson(path.join(dir, "tokenizer_config.json"));
  const out = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = config[key];
    if (typeof v === "string") out[key] = v;
    else if (v && typeof v.content === "string") out[key] = v.content;
  }
  return out;
}

function renderAll(spec, conversations) {
  const source = templateSource(spec.dir, spec.template_name);
  const special = specialTokens(spec.dir);
  const template = new Template(source);
  const renders = conversations.map((conv) => {
    const context = {
      messages: conv.messages,
      tools: conv.tools ?? null,
      add_generation_prompt: conv.add_generation_prompt,
      ...special,
      ...(conv.extra ?? {}),
      __brisk_now__: NOW_S,
    };
    // Each render gets its own deep copy: the engine must not see another render's state.
    const input = { ...structuredClone(context), strftime_now: strftimeNow };
    try {
      return { conversation: conv.name, context, output: template.render(input) };
    } catch (err) {
      return { conversation: conv.name, context, error: String(err.message ?? err) };
    }
  });
  return { ...spec, source, special_tokens: special, renders };
}

function main() {
  const argv = process.argv.slice(2);
  const args = {};
  for (let i = 0; i + 1 < argv.length; i += 2) args[argv[i].replace(/^--/, "")] = argv[i + 1];
  for (const key of ["root", "conversations", "out"]) {
    if (!args[key]) throw new Error(`--${key} is required`);
  }
  const conversations = readJson(args.conversations).conversations;
  const templates = templateSpecs(args.root).map((spec) => renderAll(spec, conversations));
  fs.writeFileSync(args.out, JSON.stringify({ now_s: NOW_S, templates }));
}

try {
  main();
} catch (err) {
  console.error(`render.mjs: ${err.message}`);
  process.exit(1);
}
