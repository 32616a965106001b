/**
 * Benchmark dispatcher: `npm run bench -- NAME [options]`.
 *
 * Each benchmark lives in bench/NAME.ts and exports `run(args)`; adding one is
 * one line in `benches` below. Benchmarks measure; they are not tests.
 */
export interface Bench {
  /** Run with the arguments after NAME; print a human table, and one JSON object last with --json. */
  run(args: readonly string[]): Promise<void>;
}

const benches: Record<string, () => Promise<Bench>> = {
  log: () => import('./log.js'),
  sync: () => import('./sync.js'),
  sim: () => import('./sim.js'),
};

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...args] = argv;
  const load = name === undefined ? undefined : benches[name];
  if (load === undefined) {
    console.error(`usage: npm run bench -- NAME [options]\nbenchmarks: ${Object.keys(benches).sort().join(', ')}`);
    process.exitCode = 2;
    return;
  }
  await (await load()).run(args);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
