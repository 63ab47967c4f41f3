// The layering of DESIGN.md's data flow, checked on every `npm test` (npm run lint): each folder of src/ may
// import only from the folders below it, and no module may reach itself through its imports.
//   util, errors, version   <   model + backend (the engine)   <   make (model files made: synth, plant, to-hf,
//   to-gguf)   <   spec   <   assays   <   store   <   screen   <   predict   <   phenotypes   <   report
//   <   scale, serve   <   api   <   index.ts (the library)   <   cli
// The command line is a client of the library: it imports src/index.ts, and of the rest only util/.
// Within the engine, backend/ implements what model/ asks of it and shares two definitions with it: the matrix
// (model/weights.ts) and the sampler's rule (model/sampler.ts); nothing else of model/.
const above = {
  util: ['make', 'backend', 'model', 'spec', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  model: ['make', 'spec', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  spec: ['make', 'backend', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  assays: ['make', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  store: ['make', 'model', 'backend', 'spec', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  screen: ['make', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  predict: ['make', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  phenotypes: ['make', 'screen', 'predict', 'report', 'scale', 'serve', 'api', 'cli'],
  report: ['make', 'screen', 'scale', 'serve', 'api', 'cli'],
  scale: ['make', 'phenotypes', 'report', 'serve', 'api', 'cli'],
  serve: ['make', 'screen', 'predict', 'scale', 'api', 'cli'],
  make: ['spec', 'assays', 'store', 'screen', 'predict', 'phenotypes', 'report', 'scale', 'serve', 'api', 'cli'],
  api: ['cli'],
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
    {
      name: 'nothing-below-imports-the-library',
      severity: 'error',
      comment: 'src/index.ts is the top of the library: only the command line imports it',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'cli-is-a-client-of-the-library',
      severity: 'error',
      comment: 'src/cli/ takes everything through src/index.ts (and util/), as a program using mutascan would',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(index\\.ts|cli/|util/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
