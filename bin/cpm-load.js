#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli/main.js (built by `npm install` through `prepare`).
import("../dist/cli/main.js").then((cli) => cli.main(process.argv.slice(2))).catch((error) => {
  if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist")) {
    console.error("cpm-load is not built: run `npm install` (or `npm run build`) in the cpm-load folder first.");
  } else {
    console.error(`cpm-load: ${error && error.message ? error.message : error}`);
  }
  process.exit(1);
});
