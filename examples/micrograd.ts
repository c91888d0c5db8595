/**
 * Reverse mode on one screen, for teaching (after Karpathy's micrograd). A Value holds a number, the
 * Values it was made from, and how to push a gradient back to them. `backward` visits the graph in
 * reverse topological order. The library's core/ does the same with tensors instead of numbers, and
 * with vjp rules written in ops instead of numbers, which is what makes grad of grad work there.
 */
export class Value {
  grad = 0;
  constructor(readonly data: number, readonly parents: Value[] = [], readonly pushBack: (g: number) => void = () => {}) {}

  add(o: Value | number): Value {
    const b = lift(o);
    const out: Value = new Value(this.data + b.data, [this, b], (g) => { this.grad += g; b.grad += g; });
    return out;
  }
  mul(o: Value | number): Value {
    const b = lift(o);
    return new Value(this.data * b.data, [this, b], (g) => { this.grad += g * b.data; b.grad += g * this.data; });
  }
  pow(k: number): Value {
    return new Value(this.data ** k, [this], (g) => { this.grad += g * k * this.data ** (k - 1); });
  }
  tanh(): Value {
    const t = Math.tanh(this.data);
    return new Value(t, [this], (g) => { this.grad += g * (1 - t * t); });
  }
  relu(): Value {
    return new Value(Math.max(0, this.data), [this], (g) => { this.grad += this.data > 0 ? g : 0; });
  }
  exp(): Value {
    const e = Math.exp(this.data);
    return new Value(e, [this], (g) => { this.grad += g * e; });
  }
  neg(): Value { return this.mul(-1); }
  sub(o: Value | number): Value { return this.add(lift(o).neg()); }
  div(o: Value | number): Value { return this.mul(lift(o).pow(-1)); }

  /** Set d(this)/d(v) in every v.grad of the graph below this value. */
  backward(): void {
    const order: Value[] = [], seen = new Set<Value>();
    const visit = (v: Value) => {
      if (seen.has(v)) return;
      seen.add(v);
      v.parents.forEach(visit);
      order.push(v);
    };
    visit(this);
    for (const v of order) v.grad = 0;
    this.grad = 1;
    for (const v of order.reverse()) v.pushBack(v.grad);
  }
}

const lift = (x: Value | number): Value => (x instanceof Value ? x : new Value(x));
