"""Standalone JAX timings of ways to run an LSTM recurrence (no Keras).

Reproduces the "Standalone experiments that did not pay" table of
benchmarks/RESULTS.md: per-step x W + h U (Keras's cell), fused
[x, h] [W; U], x W hoisted out of the scan (autodiff), a custom VJP of the
whole recurrence, and a hand-written LSTM backward; then forward-only times
and two matmuls for scale. Prints each variant's gradient difference to the
first (all ~1e-9) and its median train-step time.

    python benchmarks/experiments/jax_recurrence.py [B:T:D:U] [ln]

`ln` adds LayerNormLSTM's three normalisations (the hand-written backward
then does not apply and is skipped).
"""
import time, statistics, sys
import numpy as np
import jax, jax.numpy as jnp
from jax import lax

B, T, D, U = (int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "64:100:64:128").split(":"))
LN = len(sys.argv) > 2 and sys.argv[2] == "ln"
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((B, T, D)).astype("float32"))
y = jnp.asarray(rng.standard_normal((B, U)).astype("float32"))
W = jnp.asarray(rng.standard_normal((D, 4*U)).astype("float32") * 0.1)
Uk = jnp.asarray(rng.standard_normal((U, 4*U)).astype("float32") * 0.1)
b = jnp.zeros((4*U,), "float32")
g1 = jnp.ones((4*U,)); b1 = jnp.zeros((4*U,)); g2 = jnp.ones((4*U,)); b2 = jnp.zeros((4*U,)); g3 = jnp.ones((U,)); b3 = jnp.zeros((U,))
params = dict(W=W, U=Uk, b=b, g1=g1, b1=b1, g2=g2, b2=b2, g3=g3, b3=b3)

def ln(a, g, bb):
    s = a - a[..., :1]
    c = s - jnp.mean(s, -1, keepdims=True)
    v = jnp.mean(c * c, -1, keepdims=True)
    return c * lax.rsqrt(v + 1e-3) * g + bb

def finish(z, c, p):
    i, f, cc, o = jnp.split(z, 4, -1)
    i = jax.nn.sigmoid(i); f = jax.nn.sigmoid(f); o = jax.nn.sigmoid(o)
    c = f * c + i * jnp.tanh(cc)
    if LN:
        c = ln(c, p["g3"], p["b3"])
    return o * jnp.tanh(c), c

def rec_part(r, p):
    return ln(r, p["g2"], p["b2"]) if LN else r

def in_part(xw, p):
    return (ln(xw, p["g1"], p["b1"]) if LN else xw) + p["b"]

def run_step(p, x):
    xs = jnp.transpose(x, (1, 0, 2))
    def step(carry, xt):
        h, c = carry
        z = in_part(xt @ p["W"], p) + rec_part(h @ p["U"], p)
        h, c = finish(z, c, p)
        return (h, c), h
    h0 = jnp.zeros((B, U)); 
    (h, c), hs = lax.scan(step, (h0, h0), xs)
    return h

def run_fused(p, x):
    xs = jnp.transpose(x, (1, 0, 2))
    WU = jnp.concatenate([p["W"], p["U"]], 0)
    def step(carry, xt):
        h, c = carry
        z = jnp.concatenate([xt, h], -1) @ WU + p["b"]
        h, c = finish(z, c, p)
        return (h, c), h
    h0 = jnp.zeros((B, U))
    (h, c), hs = lax.scan(step, (h0, h0), xs)
    return h

def run_hoist(p, x):
    xs = jnp.transpose(x, (1, 0, 2))
    zx = in_part(xs @ p["W"], p)
    def step(carry, zt):
        h, c = carry
        h, c = finish(zt + rec_part(h @ p["U"], p), c, p)
        return (h, c), h
    h0 = jnp.zeros((B, U))
    (h, c), hs = lax.scan(step, (h0, h0), zx)
    return h

# custom vjp recurrence
SMALL = ("g2", "b2", "g3", "b3")
@jax.custom_vjp
def recurrence(Uk, sp, zx, h0, c0):
    return _rec_fwd(Uk, sp, zx, h0, c0)[0]

def _rec_fwd(Uk, sp, zx, h0, c0):
    def step(carry, zt):
        h, c = carry
        r = h @ Uk
        hn, cn = finish(zt + rec_part(r, sp), c, sp)
        return (hn, cn), (hn, r, c, h)
    (h, c), (hs, rs, cprev, hprev) = lax.scan(step, (h0, c0), zx)
    return (hs, h, c), (Uk, sp, zx, rs, cprev, hprev)

def _rec_bwd(res, cts):
    Uk, sp, zx, rs, cprev, hprev = res
    dhs, dhT, dcT = cts
    def g(zt, r, c, sp):
        return finish(zt + rec_part(r, sp), c, sp)
    def step(carry, inp):
        dh, dc, dsp = carry
        dh_out, zt, r, c = inp
        _, vjp = jax.vjp(g, zt, r, c, sp)
        dzt, dr, dcp, dspt = vjp((dh + dh_out, dc))
        dsp = jax.tree.map(jnp.add, dsp, dspt)
        return (dr @ Uk.T, dcp, dsp), (dzt, dr)
    zsp = jax.tree.map(jnp.zeros_like, sp)
    (dh0, dc0, dsp), (dzx, drs) = lax.scan(step, (dhT, dcT, zsp), (dhs, zx, rs, cprev), reverse=True)
    dU = jnp.einsum("tbu,tbg->ug", hprev, drs)
    return dU, dsp, dzx, dh0, dc0

recurrence.defvjp(_rec_fwd, _rec_bwd)

def run_custom(p, x):
    xs = jnp.transpose(x, (1, 0, 2))
    zx = in_part(xs @ p["W"], p)
    h0 = jnp.zeros((B, U))
    sp = {k: p[k] for k in SMALL}
    hs, h, c = recurrence(p["U"], sp, zx, h0, h0)
    return h

@jax.custom_vjp
def lstm_rec(Uk, zx, h0, c0):
    return _hf(Uk, zx, h0, c0)[0]
def _hf(Uk, zx, h0, c0):
    def step(carry, zt):
        h, c = carry
        z = zt + h @ Uk
        zi, zf, zg, zo = jnp.split(z, 4, -1)
        i = jax.nn.sigmoid(zi); f = jax.nn.sigmoid(zf); g = jnp.tanh(zg); o = jax.nn.sigmoid(zo)
        cn = f * c + i * g
        tc = jnp.tanh(cn)
        hn = o * tc
        return (hn, cn), (hn, jnp.concatenate([i, f, g, o], -1), c, tc)
    (h, c), (hs, acts, cprev, tcs) = lax.scan(step, (h0, c0), zx)
    hprev = jnp.concatenate([h0[None], hs[:-1]], 0)
    return (hs, h, c), (Uk, acts, cprev, tcs, hprev)
def _hb(res, cts):
    Uk, acts, cprev, tcs, hprev = res
    dhs, dhT, dcT = cts
    UkT = Uk.T
    def step(carry, inp):
        dh, dc = carry
        dho, a, cp, tc = inp
        dh = dh + dho
        i, f, g, o = jnp.split(a, 4, -1)
        dc = dc + dh * o * (1 - tc * tc)
        dz = jnp.concatenate([dc * g * i * (1 - i), dc * cp * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)], -1)
        return (dz @ UkT, dc * f), dz
    (dh0, dc0), dz = lax.scan(step, (dhT, dcT), (dhs, acts, cprev, tcs), reverse=True)
    dU = jnp.einsum("tbu,tbg->ug", hprev, dz)
    return dU, dz, dh0, dc0
lstm_rec.defvjp(_hf, _hb)
def run_hand(p, x):
    xs = jnp.transpose(x, (1, 0, 2))
    zx = xs @ p["W"] + p["b"]
    h0 = jnp.zeros((B, U))
    return lstm_rec(p["U"], zx, h0, h0)[1]
def make(fn):
    def loss(p, x, y):
        return jnp.mean((fn(p, x) - y) ** 2)
    return jax.jit(jax.value_and_grad(loss))

fns = {"step": make(run_step), "fused": make(run_fused), "hoist": make(run_hoist), "custom": make(run_custom)}
if not LN:
    fns["hand"] = make(run_hand)
ref = None
for k, f in fns.items():
    l, gr = f(params, x, y)
    gr = jax.tree.map(np.asarray, gr)
    if ref is None: ref = gr
    print(k, float(l), max(float(np.max(np.abs(gr[n] - ref[n]))) for n in gr))
times = {k: [] for k in fns}
for r in range(7):
    for k, f in fns.items():
        t = time.perf_counter()
        for _ in range(3):
            jax.block_until_ready(f(params, x, y))
        times[k].append((time.perf_counter() - t) / 3 * 1e3)
base = statistics.median(times["step"])
for k in fns:
    m = statistics.median(times[k]); print(f"{k:8s} {m:8.2f} ms  {m/base:.2f}")

print("--- forward only")
fw = {k: jax.jit(fn) for k, fn in [("step", run_step), ("fused", run_fused), ("hoist", run_hoist), ("custom", run_custom)]}
xsT = jnp.transpose(x, (1, 0, 2))
fw["gemm_x"] = jax.jit(lambda p, x: jnp.transpose(x, (1, 0, 2)) @ p["W"])
fw["gemm_dU"] = jax.jit(lambda p, x: jnp.einsum("tbu,tbg->ug", jnp.zeros((T, B, U)) + x[0, 0, 0], jnp.ones((T, B, 4 * U)) * x[0, 0, 1]))
times = {k: [] for k in fw}
for r in range(7):
    for k, f in fw.items():
        t = time.perf_counter()
        for _ in range(3):
            jax.block_until_ready(f(params, x))
        times[k].append((time.perf_counter() - t) / 3 * 1e3)
for k in fw:
    m = statistics.median(times[k]); print(f"{k:8s} {m:8.2f} ms")
