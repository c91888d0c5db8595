/**
 * `npm start`: the main job. Trains AVID on the built-in synthetic audio-visual data and prints a
 * table shaped like the paper's Table 1 (see avid/main.ts for the options).
 */
import { main } from '../avid/main.js';

main(process.argv.slice(2)).catch((e) => {
  console.error(String((e as Error).message ?? e));
  process.exitCode = 1;
});
