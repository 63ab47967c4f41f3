// The layering of DESIGN.md's data flow, checked on every `npm test` (npm run lint): each folder of src/ may
// import only from the folders below it, and no module may reach itself through its imports.
//   util, errors, version   <   model + backend (the engine)   <   spec   <   assays   <   store   <   screen
//   <   predict   <   phenotypes   <   report   <   scale, serve   <   cli;   index.ts (the library) over all but cli
// Within the engine, backend/ implements what model/ asks of it and shares two definitions with it: the matrix
// (model/weights.ts) and the sampler's rule (model/sampler.ts); nothing else of model/.
const above = {
  util: ['backend', 'model', 'spec', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  model: ['spec', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  spec: ['backend', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  assays: ['store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  store: ['model', 'backend', 'spec', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  screen: ['predict', 'phenotypes', 'report', 'scale', 'serve', 'cli'],
  predict: ['phenotypes', 'report', 'scale', 'serve', 'cli'],
  phenotypes: ['screen', 'predict', 'report', 'scale', 'serve', 'cli'],
  report: ['screen', 'scale', 'serve', 'cli'],
  scale: ['phenotypes', 'report', 'serve', 'cli'],
  serve: ['screen', 'predict', 'scale', 'cli'],
};

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'a module reaches itself through its imports', from: {}, to: { circular: true } },
    ...Object.entries(above).map(([layer, higher]) => ({
      name: `${layer}-below-${higher.length}`,
      severity: 'error',
      comment: `src/${layer}/ imports only from the layers below it`,
      from: { path: `^src/${layer}/` },
      to: { path: `^src/(${higher.join('|')})/` },
    })),
    {
      name: 'backend-shares-two-model-modules',
      severity: 'error',
      comment: 'backend/ takes from model/ only the matrix and the sampler\'s rule',
      from: { path: '^src/backend/' },
      to: { path: '^src/model/', pathNot: '^src/model/(weights|sampler)\\.ts$' },
    },
    {
      name: 'store-takes-only-outcomes',
      severity: 'error',
      comment: 'store/ knows of assays only the outcome it stores',
      from: { path: '^src/store/' },
      to: { path: '^src/assays/', pathNot: '^src/assays/assay\\.ts$' },
    },
    { name: 'nothing-imports-the-cli', severity: 'error', from: { pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
