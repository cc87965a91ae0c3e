"""The paper's evaluation protocol: four weight conditions and the performance profile of one network.

For a champion network and N seeded trials (the paper: 100):

1. **random individual weights** — every connection gets its own weight from U(-2, 2), fresh each trial;
2. **random shared weight** — one shared weight from U(-2, 2) per trial;
3. **tuned shared weight** — a sweep of shared weights over [-2, 2] (default 81 values) scored on the
   N trials (the *performance profile*: mean ± std per weight); the row of the best mean;
4. **tuned individual weights** — each connection's weight fine-tuned with CMA-ES (the ``cma``
   package), starting from the best shared weight (the search runs over offsets from it, as in
   the original's WANNTool); the objective is the mean return over a few seeded training
   episodes, fresh every generation; the result is then scored on the N trials. Defaults follow
   WANNTool's recipe for swing-up: population 32, initial step 0.5 (8 episodes per candidate here).
   Check of the weighted kernel: WANNTool's published swing-up weights (zoo, 932 ± 6 there) score
   929 ± 20 over 100 trials here.

Seeding (everything follows from ``seed``; the same seed gives the same numbers):

* trial ``i`` is episode ``i`` of key ``(seed,)`` of the task's scorer (``Task.scorer``): rep ``i``
  of ``Task.score``, the same episodes for all four conditions and every weight of the sweep (so
  the profile equals ``wann-engine eval`` with the same seed);
* condition 1: the weights of trial ``i`` are row ``i`` of
  ``default_rng([seed, 1]).uniform(-2, 2, (N, connections))``;
* condition 2: the weight of trial ``i`` is ``default_rng([seed, 2]).uniform(-2, 2, N)[i]``;
* condition 4: generation ``g`` of CMA-ES trains on episodes of key ``(seed, 4, g)``; the CMA
  sampler is seeded from ``seed``. The final CMA mean is compared with its starting point (all
  weights = the best shared weight) on validation episodes of key ``(seed, 5)``; the better one is
  kept. Training and validation episodes are disjoint from the N evaluation trials.

The tuned weights are saved in the tuned-weights format of ``netfile`` (``netfile.save_tuned``;
read back by ``netfile.open_network``, no pickle); a node's pre-activation is then
``sum(weight * source)`` over its connections.

Classification tasks (``TaskSpec.metric == "accuracy"``) report test accuracy instead of returns: per
weight of the sweep (the profile, with per-digit accuracy), at N random shared weights, at the shared
weight that is best on the training split, for N draws of individual weights, for the ensemble that
votes over the standard weights, and after fine-tuning (objective: the task scorer's mean
log-probability of the true label on training batches); per-digit accuracy of each condition (random
shared: the mean over the draws) is printed under the table and saved as ``per_digit``. A task whose
scorer has no per-connection weights (``weighted_ok`` false) gets conditions 2 and 3 only.

Every result also says how many of the network's inputs it uses (``inputs_used``: inputs with an enabled
path to an output).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .genome import Genome, Network
from .netfile import TUNED_FORMAT, load_tuned, open_network, save_tuned  # noqa: F401 - the tuned-weights format
from .tasks import Scorer, Task, TaskError

W_LO, W_HI = -2.0, 2.0
SWEEP = 81
TAG_INDIVIDUAL, TAG_SHARED, TAG_FINETUNE, TAG_VALID = 1, 2, 4, 5

CONDITIONS = ("random_individual", "random_shared", "tuned_shared", "tuned_individual")
LABELS = {
    "random_individual": "random individual weights",
    "random_shared": "random shared weight",
    "tuned_shared": "tuned shared weight",
    "tuned_individual": "tuned individual weights",
    "saved_weights": "saved tuned weights",
    "ensemble": "ensemble of weights",
}

Progress = Callable[[str], None]


class Unsupported(TaskError):
    """The task cannot run this part of the protocol (no per-connection weights)."""


# --- results ----------------------------------------------------------------------------------------
def inputs_used(net: Network) -> int:
    """How many inputs have an enabled path to an output (the bias is not an input).

    Evolved networks have no dead ends (a hidden node is made by splitting a live connection), so this is
    the number of inputs with a connection; a hand-made network may feed a node that reaches no output.
    """
    live = np.zeros(net.n_nodes, dtype=bool)
    live[net.n_nodes - net.n_out:] = True
    for j in range(net.n_nodes - 1, net.n_in, -1):  # evaluation order: a node's sources come before it
        if live[j]:
            live[net.src_idx[net.src_ptr[j]:net.src_ptr[j + 1]]] = True
    return int(np.count_nonzero(live[1:net.n_in + 1]))


@dataclass
class Condition:
    """One row of the table: scores of the N trials (None when the task cannot run it, see ``note``)."""

    name: str
    scores: np.ndarray | None = None
    note: str = ""
    weight: float | None = None  # the shared weight used (tuned shared)

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    @property
    def mean(self) -> float | None:
        return None if self.scores is None else float(np.mean(self.scores))

    @property
    def std(self) -> float | None:
        return None if self.scores is None else float(np.std(self.scores))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label, "available": self.scores is not None, "mean": self.mean,
                             "std": self.std, "note": self.note}
        if self.weight is not None:
            d["weight"] = self.weight
        if self.scores is not None:
            d["scores"] = np.asarray(self.scores, dtype=np.float64).tolist()
        return d


@dataclass
class Profile:
    """Mean and std over the trials at each shared weight of the sweep."""

    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @property
    def best(self) -> int:
        """Index of the best mean (NaN counts as the worst)."""
        return int(np.argmax(np.where(np.isfinite(self.mean), self.mean, -np.inf)))

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights.tolist(), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "best_weight": float(self.weights[self.best])}


@dataclass
class Finetune:
    """Fine-tuning of the individual weights (condition 4): CMA-ES for an episodic task; gradient descent
    for a classifier (``method`` "gradient": ``gens`` are epochs, ``popsize`` the mini-batch, ``episodes``
    the training images, ``sigma0`` Adam's step size, ``valid_episodes`` the validation images)."""

    weights: np.ndarray  # (E,) the kept weights, Network.edges() order
    shared_weight: float  # the start: every connection at this weight
    gens: int
    popsize: int
    episodes: int
    sigma0: float
    history: np.ndarray  # (gens, 3): generation, mean and best objective of the population
    valid_episodes: int
    valid_start: float  # validation mean return of the start
    valid_tuned: float  # ... and of the final CMA mean
    kept: str  # "tuned" or "start"
    seconds: float
    method: str = "cma-es"

    def to_dict(self) -> dict[str, Any]:
        if self.method == "gradient":
            return {"method": self.method, "shared_weight": self.shared_weight, "epochs": self.gens,
                    "batch": self.popsize, "lr": self.sigma0, "training_images": self.episodes,
                    "valid_images": self.valid_episodes, "valid_start": self.valid_start,
                    "valid_tuned": self.valid_tuned, "kept": self.kept, "seconds": self.seconds,
                    "history": self.history.tolist(), "weights": self.weights.tolist()}
        return {"method": self.method, "shared_weight": self.shared_weight, "gens": self.gens, "popsize": self.popsize,
                "episodes": self.episodes, "sigma0": self.sigma0, "evaluations": self.gens * self.popsize,
                "valid_episodes": self.valid_episodes, "valid_start": self.valid_start,
                "valid_tuned": self.valid_tuned, "kept": self.kept, "seconds": self.seconds,
                "history": self.history.tolist(), "weights": self.weights.tolist()}


@dataclass
class ProtocolResult:
    file: str
    task: str
    metric: str  # "return" or "test accuracy"
    trials: int
    seed: int
    nodes: int
    connections: int
    conditions: dict[str, Condition]
    profile: Profile
    finetune: Finetune | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # classification: per digit, ensemble
    tuned_file: str | None = None
    seconds: float = 0.0
    inputs: int = 0  # the network's inputs
    inputs_used: int = 0  # ... with an enabled path to an output (:func:`inputs_used`)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "task": self.task, "metric": self.metric, "trials": self.trials,
                "seed": self.seed, "nodes": self.nodes, "connections": self.connections, "inputs": self.inputs,
                "inputs_used": self.inputs_used,
                "conditions": {k: c.to_dict() for k, c in self.conditions.items()},
                "profile": self.profile.to_dict(),
                "finetune": None if self.finetune is None else self.finetune.to_dict(),
                **self.extra, "tuned_file": self.tuned_file, "seconds": self.seconds}


def grid(scorer: Scorer, weights: np.ndarray, key: tuple[int, ...], n: int) -> np.ndarray:
    """(W, n) scores of trials 0..n-1 at every shared weight."""
    weights = np.asarray(weights, dtype=np.float64)
    r = scorer.shared(np.repeat(weights, n), key, np.tile(np.arange(n), len(weights)))
    return r.reshape(len(weights), n)


# --- the four conditions ----------------------------------------------------------------------------
def sweep_weights(n: int = SWEEP) -> np.ndarray:
    """``n`` evenly spaced shared weights from -2 to 2 (both ends included)."""
    if n < 2:
        raise ValueError("the sweep needs at least 2 weights")
    return np.round(np.linspace(W_LO, W_HI, n), 10)  # 0.8, not 0.8000000000000003: as typed for ``eval``


def random_individual_weights(seed: int, trials: int, n_edges: int) -> np.ndarray:
    """(trials, E) weights of condition 1; row i does not depend on ``trials``."""
    return np.random.default_rng([seed, TAG_INDIVIDUAL]).uniform(W_LO, W_HI, (trials, n_edges))


def random_shared_weights(seed: int, trials: int) -> np.ndarray:
    """(trials,) weights of condition 2."""
    return np.random.default_rng([seed, TAG_SHARED]).uniform(W_LO, W_HI, trials)


def profile(scorer: Scorer, seed: int, trials: int, weights: np.ndarray) -> tuple[Profile, np.ndarray]:
    """The performance profile over the evaluation trials, and the (W, N) scores behind it."""
    r = grid(scorer, weights, (seed,), trials)
    return Profile(np.asarray(weights, dtype=np.float64), r.mean(1), r.std(1)), r


def _cma_seed(seed: int) -> int:
    return int(np.random.SeedSequence([seed, TAG_FINETUNE]).generate_state(1)[0] % (2**31 - 2)) + 1


def finetune(scorer: Scorer, w0: float, seed: int, gens: int, episodes: int = 8, popsize: int = 32,
             sigma0: float = 0.5, valid_episodes: int = 64, progress: Progress | None = None) -> Finetune:
    """CMA-ES over offsets from the shared weight ``w0``; objective = mean score over ``episodes``
    training episodes (key ``(seed, 4, generation)``: fresh each generation, the same for the whole
    population). Keeps the final CMA mean, unless the start does better on the validation episodes.

    ``cma`` seeds NumPy's global random generator (its sampler uses it); nothing else here does.
    """
    with warnings.catch_warnings():  # cma warns at import when matplotlib is missing
        warnings.simplefilter("ignore")
        import cma

    if not scorer.weighted_ok:
        raise Unsupported("individual connection weights are not available for this task")
    n_e = scorer.n_edges
    if n_e == 0:
        raise Unsupported("the network has no connections: nothing to fine-tune")
    t0 = time.perf_counter()
    opts: dict[str, Any] = {"seed": _cma_seed(seed), "verbose": -9, "verb_log": 0, "verb_disp": 0,
                            "maxiter": max(gens, 1), "tolfun": 0, "tolflatfitness": 10**9, "tolfunhist": 0,
                            "tolstagnation": 10**9}
    if popsize:
        opts["popsize"] = popsize
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = cma.CMAEvolutionStrategy(np.zeros(n_e), sigma0, opts)
    lam = int(es.popsize)
    history = np.zeros((gens, 3))
    trials = np.tile(np.arange(episodes), lam)
    for g in range(gens):
        xs = np.asarray(es.ask())
        ew = np.repeat(w0 + xs, episodes, axis=0)
        f = scorer.weighted(ew, (seed, TAG_FINETUNE, g), trials).reshape(lam, episodes).mean(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.tell(list(xs), (-f).tolist())
        history[g] = (g, f.mean(), f.max())
        if progress is not None and (g + 1) % max(1, gens // 20) == 0:
            progress(f"fine-tuning: generation {g + 1}/{gens}  population mean {f.mean():.2f}  best {f.max():.2f}")
    tuned = w0 + np.asarray(es.mean if gens else np.zeros(n_e), dtype=np.float64)
    start = np.full(n_e, float(w0))
    vt = np.arange(valid_episodes)
    both = scorer.weighted(np.concatenate([np.repeat(start[None], valid_episodes, 0),
                                           np.repeat(tuned[None], valid_episodes, 0)]),
                           (seed, TAG_VALID), np.concatenate([vt, vt]))
    v_start, v_tuned = float(both[:valid_episodes].mean()), float(both[valid_episodes:].mean())
    kept = "tuned" if v_tuned >= v_start else "start"
    return Finetune(tuned if kept == "tuned" else start, float(w0), gens, lam, episodes, float(sigma0), history,
                    valid_episodes, v_start, v_tuned, kept, time.perf_counter() - t0)


CMAES_GENS = 300  # condition 4's default length for an episodic task: CMA-ES generations
GRADIENT_EPOCHS = 60  # ... and for a classifier: epochs of gradient descent (the MNIST champion: ~100 s)


def gradient_finetune(task: Any, net: Network, w0: float, seed: int, epochs: int,
                      progress: Progress | None = None) -> Finetune:
    """A classifier's condition 4: Adam on the training log-likelihood (``tasks.classify_tune``), the
    last sixth of the training images (at most 10,000) held out to pick the epoch."""
    from .tasks.classify_tune import gradient_tune

    if net.n_conns == 0:
        raise Unsupported("the network has no connections: nothing to fine-tune")
    t0 = time.perf_counter()
    X, y = task.data("train")
    valid = min(10_000, len(X) // 6)
    g = gradient_tune(net, X, y, w0, seed, epochs=epochs, valid=valid, progress=progress)
    return Finetune(g.weights, float(w0), g.epochs, g.batch, len(X) - valid, g.lr, g.history, valid,
                    g.valid_start, g.valid_tuned, g.kept, time.perf_counter() - t0, method="gradient")


def run_protocol(scorer: Scorer, net: Network, *, trials: int = 100, seed: int = 0, sweep: int = SWEEP,
                 finetune_gens: int = 0, finetune_episodes: int = 8, finetune_pop: int = 32, sigma0: float = 0.5,
                 valid_episodes: int = 64, saved: np.ndarray | None = None, file: str = "", task: str = "",
                 progress: Progress | None = None) -> ProtocolResult:
    """The four conditions for an episodic task (returns); condition 4 when ``finetune_gens`` > 0.

    ``saved``: connection weights read from a tuned-weights file, scored as an extra row.
    """
    if trials < 1:
        raise ValueError("trials must be at least 1")
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    n_e = net.n_conns
    ev = np.arange(trials)
    conds: dict[str, Condition] = {}
    if scorer.weighted_ok:
        say("random individual weights")
        conds["random_individual"] = Condition(
            "random_individual", scorer.weighted(random_individual_weights(seed, trials, n_e), (seed,), ev),
            note="U(-2,2) per connection, fresh each trial")
    else:
        conds["random_individual"] = Condition("random_individual", note="needs per-connection weights: "
                                               "not available for this task")
    say("random shared weight")
    conds["random_shared"] = Condition("random_shared", scorer.shared(random_shared_weights(seed, trials), (seed,), ev),
                                       note="U(-2,2) per trial")
    say(f"performance profile: {sweep} shared weights")
    prof, rows = profile(scorer, seed, trials, sweep_weights(sweep))
    wb = float(prof.weights[prof.best])
    conds["tuned_shared"] = Condition("tuned_shared", rows[prof.best], weight=wb,
                                      note=f"best of {sweep} weights in [-2, 2]: w = {wb:+.3f}")
    ft = None
    if finetune_gens <= 0:
        conds["tuned_individual"] = Condition("tuned_individual", note="skipped (--finetune-gens 0)")
    elif not scorer.weighted_ok:
        conds["tuned_individual"] = Condition("tuned_individual", note="needs per-connection weights: "
                                              "not available for this task")
    else:
        say(f"fine-tuning {n_e} weights with CMA-ES from w = {wb:+.3f}")
        ft = finetune(scorer, wb, seed, finetune_gens, finetune_episodes, finetune_pop, sigma0, valid_episodes,
                      progress)
        r = scorer.weighted(np.broadcast_to(ft.weights, (trials, n_e)), (seed,), ev)
        note = (f"CMA-ES from w = {wb:+.3f}: {ft.gens} gens x {ft.popsize} x {ft.episodes} episodes"
                + ("" if ft.kept == "tuned" else "; the start validated better and was kept"))
        conds["tuned_individual"] = Condition("tuned_individual", r, note=note)
    if saved is not None:
        conds["saved_weights"] = Condition("saved_weights", scorer.weighted(np.broadcast_to(saved, (trials, n_e)),
                                                                             (seed,), ev), note="from the file")
    return ProtocolResult(file, task, "return", trials, seed, net.n_nodes, n_e, conds, prof, ft,
                          seconds=time.perf_counter() - t0, inputs=net.n_in, inputs_used=inputs_used(net))


def classification_protocol(task: Any, net: Network, *, trials: int = 100, seed: int = 0, sweep: int = SWEEP,
                            finetune_gens: int = 0, saved: np.ndarray | None = None,
                            file: str = "", progress: Progress | None = None) -> ProtocolResult:
    """Test accuracy under the four conditions, per weight and digit, and of the ensemble over weights."""
    from .config import STANDARD_WEIGHTS

    if trials < 1:
        raise ValueError("trials must be at least 1")
    from .tasks.classify import weighted_accuracy

    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    n_e = net.n_conns
    X, y = task.data("test")
    ws = sweep_weights(sweep)
    say(f"performance profile: {sweep} shared weights")
    acc, per_digit = task.accuracies(net, ws, "test")
    prof = Profile(ws, acc, np.zeros(len(ws)))
    say("selecting the shared weight on the training split")
    train_acc, _ = task.accuracies(net, ws, "train")
    best = int(np.argmax(train_acc))
    wb = float(ws[best])
    conds: dict[str, Condition] = {}
    say("random individual weights")
    ri = [weighted_accuracy(net, X, y, w) for w in random_individual_weights(seed, trials, n_e)]
    conds["random_individual"] = Condition("random_individual", np.array([a for a, _ in ri]),
                                           note="U(-2,2) per connection, fresh each trial")
    say("random shared weight")
    rs_acc, rs_digit = task.accuracies(net, random_shared_weights(seed, trials), "test")
    conds["random_shared"] = Condition("random_shared", rs_acc, note="U(-2,2) per trial")
    conds["tuned_shared"] = Condition("tuned_shared", np.array([acc[best]]), weight=wb,
                                      note=f"best training accuracy of {sweep} weights: w = {wb:+.3f}")
    ens = task.accuracy(net, np.asarray(STANDARD_WEIGHTS), "test")
    conds["ensemble"] = Condition("ensemble", np.array([ens.ensemble]),
                                  note="vote over weights " + ", ".join(f"{w:g}" for w in STANDARD_WEIGHTS))
    ft = None
    # per condition: the condition's per-digit test accuracy (random draws: the mean over the draws)
    digits: dict[str, list[float]] = {"random_individual": np.mean([d for _, d in ri], 0).tolist(),
                                      "random_shared": rs_digit.mean(0).tolist(),
                                      "tuned_shared": per_digit[best].tolist(),
                                      "ensemble": ens.ensemble_per_digit.tolist()}
    extra: dict[str, Any] = {"profile_per_digit": per_digit.tolist(), "profile_train_accuracy": train_acc.tolist(),
                             "ensemble": ens.to_dict(), "per_digit": digits}
    if finetune_gens <= 0:
        conds["tuned_individual"] = Condition("tuned_individual", note="skipped (--finetune-gens 0)")
    else:
        say(f"fine-tuning {n_e} weights by gradient descent from w = {wb:+.3f}")
        ft = gradient_finetune(task, net, wb, seed, finetune_gens, progress)
        a, pd = weighted_accuracy(net, X, y, ft.weights)
        extra["tuned_per_digit"] = digits["tuned_individual"] = pd.tolist()
        conds["tuned_individual"] = Condition(
            "tuned_individual", np.array([a]),
            note=f"Adam on training log-likelihood from w = {wb:+.3f}: {ft.gens} epochs"
            + ("" if ft.kept == "tuned" else "; the start validated better and was kept"))
    if saved is not None:
        a, pd = weighted_accuracy(net, X, y, saved)
        digits["saved_weights"] = pd.tolist()
        conds["saved_weights"] = Condition("saved_weights", np.array([a]), note="from the file")
    return ProtocolResult(file, task.name, "test accuracy", trials, seed, net.n_nodes, n_e, conds, prof, ft, extra,
                          seconds=time.perf_counter() - t0, inputs=net.n_in, inputs_used=inputs_used(net))


# --- the whole thing from a file ------------------------------------------------------------------------
def evaluate_file(file: str | Path, task: Task | str | None = None, *, trials: int = 100, seed: int = 0,
                  sweep: int = SWEEP, finetune_gens: int | None = 0, finetune_episodes: int | None = None,
                  finetune_pop: int = 32, sigma0: float = 0.5, valid_episodes: int | None = None, threads: int = 0,
                  progress: Progress | None = None) -> tuple[ProtocolResult, Genome, Task]:
    """Read a network file (``netfile.open_network``: project JSON, original ``.out``, tuned weights or a run
    directory) and run the protocol on ``task`` (default: the file's). Returns the result, the genome and
    the task."""
    got = open_network(file, task)
    t, net = got.task, got.network()
    if t.spec.metric == "accuracy":
        epochs = GRADIENT_EPOCHS if finetune_gens is None else finetune_gens
        res = classification_protocol(t, net, trials=trials, seed=seed, sweep=sweep, finetune_gens=epochs,
                                      saved=got.weights, file=str(file), progress=progress)
    else:
        res = run_protocol(t.scorer(net, threads), net, trials=trials, seed=seed, sweep=sweep,
                           finetune_gens=CMAES_GENS if finetune_gens is None else finetune_gens,
                           finetune_episodes=finetune_episodes or 8,
                           finetune_pop=finetune_pop, sigma0=sigma0, valid_episodes=valid_episodes or 64,
                           saved=got.weights, file=str(file), task=t.name, progress=progress)
    return res, got.genome, t


def tuned_path(file: str | Path, out: str | Path | None) -> Path:
    """Where the tuned weights go: ``<out>/<stem>.tuned.json``, or beside the network file."""
    f = Path(file)
    stem = f.name[: -len(".tuned.json")] if f.name.endswith(".tuned.json") else f.stem
    return (Path(out) if out is not None else f.parent) / f"{stem}.tuned.json"


def format_table(res: ProtocolResult, profile_rows: bool = True) -> str:
    """The result as text: the conditions, then the performance profile."""
    acc = res.metric != "return"
    fmt = (lambda v: f"{100 * v:8.2f}%") if acc else (lambda v: f"{v:9.2f}")
    lines = [f"{res.file}  task {res.task}  {res.nodes} nodes  {res.connections} connections  "
             f"{res.inputs_used} of {res.inputs} inputs used  "
             + (f"metric: {res.metric}  (random draws: {res.trials}, seed {res.seed})" if acc else
                f"{res.trials} trials (seed {res.seed})"),
             f"{'condition':28} {'mean':>9}  {'std':>9}  detail"]
    for c in res.conditions.values():
        if c.scores is None:
            lines.append(f"{c.label:28} {'n/a':>9}  {'':>9}  {c.note}")
        else:
            sd = fmt(c.std) if len(c.scores) > 1 else f"{'':>9}"
            lines.append(f"{c.label:28} {fmt(c.mean)}  {sd}  {c.note}")
    if res.finetune is not None and res.finetune.method == "gradient":
        f = res.finetune
        lines.append(f"fine-tuning: {f.gens} epochs of Adam (batches of {f.popsize}, step {f.sigma0:g}) on "
                     f"{f.episodes} training images in {f.seconds:.1f} s; validation log-likelihood "
                     f"({f.valid_episodes} images): start {f.valid_start:.4f}, tuned {f.valid_tuned:.4f}")
    elif res.finetune is not None:
        f = res.finetune
        lines.append(f"fine-tuning: {f.gens} generations x {f.popsize} x {f.episodes} episodes in {f.seconds:.1f} s; "
                     f"validation ({f.valid_episodes} episodes): start {f.valid_start:.2f}, tuned {f.valid_tuned:.2f}")
    if res.tuned_file:
        lines.append(f"tuned weights saved to {res.tuned_file}")
    digits = res.extra.get("per_digit")
    if digits:
        n = len(next(iter(digits.values())))
        lines.append("test accuracy per digit (random draws: the mean over the draws):")
        lines.append(f"{'condition':28}" + "".join(f"{d:>7}" for d in range(n)))
        for name, row in digits.items():
            lines.append(f"{LABELS.get(name, name):28}" + "".join(f"{100 * v:6.1f}%" for v in row))
    if profile_rows:
        p = res.profile
        lines.append("performance profile" + (" (test accuracy per shared weight):" if acc else
                                              f" (mean ± std over the {res.trials} trials per shared weight):"))
        lines.append(f"{'weight':>8}  {'mean':>9}  {'std':>9}")
        for i, w in enumerate(p.weights):
            mark = "  <- best" if i == p.best else ""
            lines.append(f"{w:8.3f}  {fmt(p.mean[i])}  {fmt(p.std[i]) if not acc else '':>9}{mark}")
    lines.append(f"{res.seconds:.1f} s")
    return "\n".join(lines)
