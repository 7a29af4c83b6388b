// Loaded with `node --require`: at exit, appends every file this process loaded from node_modules to
// $ICH_RECORD_MODULES (bench/gpu-pack.sh packs exactly what the GPU run needs).
const fs = require('node:fs');
process.on('exit', () => {
  const files = Object.keys(require.cache).filter((f) => f.includes('/node_modules/'));
  fs.appendFileSync(process.env.ICH_RECORD_MODULES, files.join('\n') + '\n');
});
