/**
 * The playground's loss presets: JavaScript source the page shows in its editor. Each defines
 * `function loss(a, b, data)` over the two towers' embeddings of the same points, with `np` in scope.
 */
export interface Preset {
  name: string;
  code: string;
  /** How the page draws the embeddings first: on the unit circle (what a cosine loss sees) or as they are. */
  view: 'unit' | 'raw';
}

const HEADER = `// a, b: the two towers' embeddings of the same B points, [B, 2] each.
// data.latent: the hidden points [B, 2]; data.labels: their class, int32 [B].
// Return a scalar tensor. np is the library: np.matmul, np.logSumExp, ...`;

export const PRESETS: Preset[] = [
  {
    name: 'InfoNCE (contrastive, CLIP-style)',
    code: `${HEADER}

// InfoNCE: a[i] must pick its own b[i] among all of b, and b[i] its a[i].
function loss(a, b, data) {
  const T = 0.2;                                         // temperature
  const za = np.l2Normalize(a), zb = np.l2Normalize(b);  // unit vectors
  const s = np.div(np.matmulT(za, zb, false, true), T);  // [B, B] scores
  const pos = np.div(np.sum(np.mul(za, zb), -1), T);     // [B] matching pairs
  const lse = np.add(np.logSumExp(s, -1), np.logSumExp(s, 0));
  return np.mean(np.sub(np.div(lse, 2), pos));
}
`,
    view: 'unit',
  },
  {
    name: 'NCE with a fixed Z (Cross-AVID)',
    code: `${HEADER}

// NCE as AVID uses it (Wu et al. 2018), cross-modal: a[i] against b[i]
// ("data") and the other rows of b ("noise"), and b against a the same way.
// Z is a constant: AVID estimates it as the mean of e^s on its first batch,
// then freezes it (about 27 for random 2-D unit vectors at T = 0.2).
function loss(a, b, data) {
  const T = 0.2, Z = 27;
  const B = a.shape[0], K = B - 1, logKZ = Math.log(K * Z);
  const softplus = (u) =>
    np.add(np.relu(u), np.log(np.add(1, np.exp(np.neg(np.abs(u))))));
  const diag = np.eye(B), noise = np.sub(1, diag);
  const nce = (x, bank) => {
    const s = np.div(np.matmulT(x, bank, false, true), T);  // [B, B] scores
    const pos = np.sum(np.mul(s, diag), -1);                 // s[i, i]
    const negs = np.sum(np.mul(softplus(np.sub(s, logKZ)), noise), -1);
    // -log P(data) - sum over noise of log P(noise)
    return np.mean(np.add(softplus(np.sub(logKZ, pos)), negs));
  };
  const za = np.l2Normalize(a), zb = np.l2Normalize(b);
  return np.add(nce(za, zb), nce(zb, za));
}
`,
    view: 'unit',
  },
  {
    name: 'Regression (MSE to the hidden points)',
    code: `${HEADER}
// Supervised regression: each tower should output the hidden 2-D point itself.
function loss(a, b, data) {
  const mse = (z) => np.mean(np.square(np.sub(z, data.latent)));
  return np.add(mse(a), mse(b));
}
`,
    view: 'raw',
  },
];
