"""The (64, 64) tanh MLP step of the steps bench (`mlp-64-64`: 200,000 rows
x 10 features, sigmoid output) in numpy, for comparison with Steplab's:
the matrix products alone, then a whole full-batch step (activations, loss
and gradients). Median of 7 after one warm-up.

    python3 benches/numpy_mlp.py
"""
import numpy as np, time
rng = np.random.default_rng(0)
n, d, u = 200_000, 10, 64
X = np.asfortranarray(rng.standard_normal((n, d)))
W1 = 0.1*rng.standard_normal((u, d)); W2 = 0.1*rng.standard_normal((u, u)); w3 = 0.1*rng.standard_normal((1, u))
y = (rng.standard_normal(n) > 0).astype(float)
def products():
    H1 = X @ W1.T; H2 = H1 @ W2.T; o = H2 @ w3.T
    D2 = o @ w3; D1 = D2 @ W2
    return o.T @ H2, D2.T @ H1, D1.T @ X
def step():
    Z1 = X @ W1.T + 0.0; A1 = np.tanh(Z1)
    Z2 = A1 @ W2.T; A2 = np.tanh(Z2)
    z3 = A2 @ w3.T; p = 1/(1+np.exp(-z3[:,0]))
    loss = np.mean(np.logaddexp(0, z3[:,0]) - y*z3[:,0])
    d3 = (p - y)[:, None] / n
    g3 = d3.T @ A2
    d2 = (d3 @ w3) * (1 - A2*A2); g2 = d2.T @ A1
    d1 = (d2 @ W2) * (1 - A1*A1); g1 = d1.T @ X
    return loss, g1, g2, g3
for f, name in [(products, "products only"), (step, "full step (tanh, loss, grads)")]:
    f()
    ts = []
    for _ in range(7):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    ts.sort(); print(f"numpy {name}: median {ts[3]*1e3:.1f} ms (min {ts[0]*1e3:.1f})")
