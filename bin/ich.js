#!/usr/bin/env node
'use strict';
// The `ich` command: runs the built CLI (npm run build writes dist/).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('ich: built library expected at dist/, got none (run `npm run setup` or `npm run build` first)\n');
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code), (err) => {
    process.stderr.write(`ich: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
