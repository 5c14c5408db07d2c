"""The simulations on the default device (the accelerator, when there is one) in float64 and
in float32, against the float64 CPU results the claims are checked with (a phase of
``lottery bench gpu``, docs/gpu.md).

The claims of :mod:`sims.one_neuron` and :mod:`sims.mirror` run float64 programs
(``jax.enable_x64``) on the default device. Here the same jitted programs run three ways:

* ``float64 on cpu``: the reference, exactly what ``lottery verify`` computes on a CPU;
* ``float64 on the default device``: what ``lottery verify`` computes there (on a CPU-only
  machine it is the reference itself, so its error must be 0);
* ``float32 on the default device``: the same program (``engine._run_batch``,
  ``dynamics._gd_jit``) on float32 inputs with x64 off, what a float32-only accelerator run
  would give. The claims' success threshold (final loss < 1e-8) is below what float32 can
  resolve in the one-neuron loss (terms of size 1/2 cancel), so agreement is also reported
  at 1e-4 and for the sign and mask-identification outcomes.

Settings: the one-neuron Gaussian-input GD of the claims (``GAUSS_LR``, ``GAUSS_STEPS``,
d = 10, the margin initialization, spec lrr.md §1.7), and the mirror test bed's GD on m ⊙ w
with the geometric α schedule of ``mirror.imbalance_law`` (spec mirror.md §3.1). Errors are
‖x − x_ref‖ / ‖x_ref‖ over all runs.
"""

from __future__ import annotations

import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

#: (one-neuron runs, GD steps), (mirror inits, GD steps, records) per bench mode
SIZES = {"full": {"one_neuron": (10_000, None), "mirror": (5, 20_000, 100)},
         "tiny": {"one_neuron": (64, 200), "mirror": (2, 500, 10)}}
#: the first call's estimate before anything was measured (a guess), per mode
PRIOR_S = {"full": 30.0, "tiny": 5.0}
D = 10
MIRROR_ETA, MIRROR_ALPHA0, MIRROR_TAU, MIRROR_KIND = 1e-2, 0.05, 100.0, 3


def _f32(value):
    return jnp.asarray(np.asarray(value, np.float32))


# ----------------------------------------------------------------------------- one neuron
def one_neuron_inputs(runs: int, seed: int):
    from sims.one_neuron import engine

    return engine.sample_initializations(np.random.default_rng([seed, 10]), runs, D, "margin")


def one_neuron(a0, w0, steps: int, precision: str, device) -> dict[str, np.ndarray]:
    """Gaussian-input GD of the one-neuron claims on ``device`` in ``precision``."""
    from sims.one_neuron import engine
    from sims.one_neuron.claims import GAUSS_LR

    if precision == "float64":
        with jax.default_device(device):
            return engine.simulate(a0, w0, law="gaussian", lr=GAUSS_LR, steps=steps)
    with jax.enable_x64(False), jax.default_device(device):
        out = engine._run_batch(_f32(a0), _f32(w0), _f32(np.ones_like(w0)), jnp.float32(GAUSS_LR),
                                jnp.float32(0.0), _f32(np.zeros((1, D))), jnp.int32(steps),
                                law="gaussian", method="gd")
        return {k: np.asarray(v) for k, v in out.items()}


def one_neuron_agreement(out: dict, ref: dict) -> dict[str, float]:
    """Fraction of runs whose outcome is the reference's: claim 5's sign of a, claim 7's mask
    identification (argmax |w_i| = target), success at the claims' 1e-8 and at 1e-4."""
    from sims.one_neuron.claims import SUCCESS_LOSS

    def outcomes(o):
        target = np.argmax(np.abs(o["w"]), axis=1) == 0
        loss = np.nan_to_num(np.asarray(o["loss"], np.float64), nan=np.inf)
        return {"sign_of_a": o["a"] > 0, "mask_identification": target,
                "success_at_1e-8": target & (loss < SUCCESS_LOSS),
                "success_at_1e-4": target & (loss < 1e-4)}

    mine, theirs = outcomes(out), outcomes(ref)
    agreement = {k: float(np.mean(mine[k] == theirs[k])) for k in mine}
    agreement.update({f"rate_{k}": float(np.mean(mine[k])) for k in ("success_at_1e-8",
                                                                      "success_at_1e-4")})
    return agreement


# ----------------------------------------------------------------------------- mirror
def mirror_inputs(inits: int, seed: int):
    from sims.mirror.dynamics import testbed
    from theory import mirror as theory

    bed = testbed(seed, inits)
    m0, w0 = theory.pilot_init(bed["x_init"], beta=1.0)
    return bed, m0, w0


def mirror(bed, m0, w0, steps: int, records: int, precision: str, device) -> dict:
    """GD on m ⊙ w with weight decay α_k = 0.05·0.95^{k/100} on ``device`` in ``precision``."""
    from sims.mirror import dynamics

    if precision == "float64":
        with jax.default_device(device):
            m, w, log_factor, dist, loss = dynamics.gradient_descent(
                bed["Z"], bed["y"], bed["x_star"], m0, w0, eta=MIRROR_ETA, steps=steps,
                setting=dynamics.WD_MW, kind=MIRROR_KIND, alpha0=MIRROR_ALPHA0, tau=MIRROR_TAU,
                records=records, factor=True)
        return {"x": m * w, "log_factor": log_factor, "distance": dist, "loss": loss}
    runs = m0.shape[0]
    with jax.enable_x64(False), jax.default_device(device), warnings.catch_warnings():
        # the step counter's astype(float64) becomes float32 with x64 off, as intended here
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        per_run = lambda value, dtype: jnp.full((runs,), value, dtype)  # noqa: E731
        out = dynamics._gd_jit(
            _f32(m0), _f32(w0), _f32(bed["Z"]), _f32(bed["y"]), _f32(bed["x_star"]),
            jnp.float32(MIRROR_ETA), per_run(dynamics.WD_MW, jnp.int32),
            per_run(MIRROR_KIND, jnp.int32), per_run(MIRROR_ALPHA0, jnp.float32),
            per_run(MIRROR_TAU, jnp.float32), records, jnp.int32(steps // records), True)
        m, w, log_factor, dist, loss = (np.asarray(v) for v in out)
    return {"x": m * w, "log_factor": log_factor, "distance": dist.T, "loss": loss.T}


# ----------------------------------------------------------------------------- the phase
def relative_errors(out: dict, ref: dict) -> dict[str, float]:
    """‖out − ref‖ / ‖ref‖ per array (NaN anywhere: NaN)."""
    errors = {}
    for key, value in ref.items():
        diff = np.asarray(out[key], np.float64) - np.asarray(value, np.float64)
        errors[key] = float(np.linalg.norm(diff.ravel()) /
                            max(np.linalg.norm(np.asarray(value, np.float64).ravel()), 1e-300))
    return errors


def _timed_twice(fn):
    """``(result, first call s, second call s)``: the first includes compilation."""
    clock = time.perf_counter()
    fn()
    first = time.perf_counter() - clock
    clock = time.perf_counter()
    result = fn()
    return result, first, time.perf_counter() - clock


def run_phase(ctx) -> None:
    settings = ctx.shared.settings
    sizes, seed = SIZES[settings.mode], settings.seed
    from sims.one_neuron.claims import GAUSS_STEPS

    runs, steps = sizes["one_neuron"]
    steps = steps or GAUSS_STEPS
    a0, w0 = one_neuron_inputs(runs, seed)
    inits, mirror_steps, records = sizes["mirror"]
    bed, m0, w0_mirror = mirror_inputs(inits, seed)
    sims = {"one_neuron": (lambda p, d: one_neuron(a0, w0, steps, p, d),
                           {"runs": runs, "d": D, "steps": steps, "law": "gaussian",
                            "init": "margin"}),
            "mirror": (lambda p, d: mirror(bed, m0, w0_mirror, mirror_steps, records, p, d),
                       {"inits": inits, "steps": mirror_steps, "eta": MIRROR_ETA,
                        "alpha": "0.05 * 0.95^(k/100)", "setting": "m*w, weight decay"})}
    cpu, default = jax.devices("cpu")[0], jax.devices()[0]
    ways = [("float64", cpu, "float64 on cpu (reference)"),
            ("float64", default, f"float64 on the default device ({default.platform})"),
            ("float32", default, f"float32 on the default device ({default.platform})")]
    rows = ctx.result.setdefault("rows", [])
    ctx.result["settings"] = {name: info for name, (_, info) in sims.items()}
    for name, (simulate, _) in sims.items():
        reference = None
        for precision, device, way in ways:
            item = f"{name} {way}"
            estimate = max([r["first_call_s"] + r["run_s"] for r in rows],
                           default=PRIOR_S[settings.mode])
            if not ctx.fits(item, estimate):
                if reference is None:
                    break       # nothing to compare with: the simulation's other rows too
                continue
            out, first, again = _timed_twice(lambda: simulate(precision, device))
            row = {"simulation": name, "precision": precision,
                   "device": f"{device.platform}:{device.id} {device.device_kind}",
                   "reference": reference is None, "first_call_s": first, "run_s": again,
                   "dtype": str(np.asarray(next(iter(out.values()))).dtype)}
            if reference is None:
                reference = out
            else:
                row["relative_error"] = relative_errors(out, reference)
                if name == "one_neuron":
                    row["agreement"] = one_neuron_agreement(out, reference)
            rows.append(row)
            ctx.log(f"sims: {item}: {again:.2f} s"
                    + (f", max relative error {max(row['relative_error'].values()):.2e}"
                       if "relative_error" in row else ""))
            ctx.save()


def markdown(record: dict) -> list[str]:
    rows = record["result"].get("rows", [])
    if not rows:
        return []
    lines = ["| simulation | precision | device | output dtype | run s (first call) | "
             "relative error vs float64 CPU | outcome agreement |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        errors = ("reference" if r["reference"] else
                  ", ".join(f"{k} {v:.1e}" for k, v in r.get("relative_error", {}).items()))
        agreement = ", ".join(f"{k} {v:.3f}" for k, v in r.get("agreement", {}).items()) or "—"
        lines.append(f"| {r['simulation']} | {r['precision']} | {r['device']} | {r['dtype']} | "
                     f"{r['run_s']:.3f} ({r['first_call_s']:.2f}) | {errors} | {agreement} |")
    settings = record["result"].get("settings", {})
    lines += ["", "Settings: " + "; ".join(f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items())
                                           for k, v in settings.items()) + ".",
              "Agreement: the fraction of runs whose outcome equals the float64 CPU run's "
              "(sign of a, mask identification, success at the claims' loss < 1e-8 and at "
              "1e-4; `rate_*`: the success rate of this run)."]
    return lines
