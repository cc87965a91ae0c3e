"""Step rates of the ``carracing`` task on one core, as medians of CPU time (the machine may be shared):
CarRacing-v3's physics and rewards alone (its state-pixel render skipped), the step as gymnasium ships it
(pygame draws the 96x96 state frame), the step with :mod:`carracing_raster`'s frame (what the task runs),
the raster frame and the encoder alone, the whole task (frames encoded in one batch over the parallel
episodes, networks, actions), and the cost of a generation of the ``carracing`` preset (64 networks x
6 weights x 2 repetitions x up to 1000 steps) both ways.

With ``--png``, also the fidelity figure: gymnasium's 64x64 frame (its pygame render, cropped and
resampled as the encoder does) beside the raster frame at the same states, with the mean absolute pixel
difference and the packaged encoder's latent difference.

    OMP_NUM_THREADS=1 python bench/bench_carracing.py [--repeats 5] [--png docs/carracing_raster_vs_gym.png]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

clock = time.process_time
PRESET_STEPS = 64 * 6 * 2 * 1000  # episode-steps of one generation of the carracing preset (full episodes)


def median_of(f: Callable[[], float], repeats: int) -> float:
    return statistics.median(f() for _ in range(repeats))


def env_step(kind: str, steps: int, seed: int = 1, skip: int = 60) -> float:
    """CPU seconds per step after ``skip`` steps (past the start's zoom animation): ``physics`` (no state
    frame), ``gym`` (as shipped) or ``raster`` (the task's env)."""
    import gymnasium as gym

    from wann_engine.tasks import carracing_raster as raster

    env = gym.make(raster.ENV_ID if kind == "raster" else "CarRacing-v3", disable_env_checker=True)
    if kind == "physics":
        env.unwrapped._render = lambda *a, **k: None
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    acts = [np.array([rng.uniform(-0.3, 0.3), 0.3, 0.0], np.float32) for _ in range(skip + steps)]
    for a in acts[:skip]:
        env.step(a)
    t = clock()
    for a in acts[skip:]:
        env.step(a)
    dt = clock() - t
    env.close()
    return dt / steps


def raster_frame(frames: int, seed: int = 1) -> float:
    """CPU seconds per raster frame at a driving state."""
    import gymnasium as gym

    from wann_engine.tasks import carracing_raster as raster

    env = gym.make(raster.ENV_ID, disable_env_checker=True)
    env.reset(seed=seed)
    for _ in range(80):
        env.step(np.array([0.0, 0.3, 0.0], np.float32))
    t = clock()
    for _ in range(frames):
        raster.frame(env)
    dt = clock() - t
    env.close()
    return dt / frames


def encode_frame(batch: int, reps: int) -> float:
    """CPU seconds per frame of the packaged encoder in batches of ``batch``."""
    from wann_engine.tasks import carracing_encoder as ce

    enc = ce.load()
    x = np.random.default_rng(0).integers(0, 256, (batch, 64, 64, 3), dtype=np.uint8)
    enc.encode64(x)
    t = clock()
    for _ in range(reps):
        enc.encode64(x)
    return (clock() - t) / (batch * reps)


def task_step(episodes: int, steps: int) -> float:
    """CPU seconds per episode-step of the task: ``episodes`` networks scored together for ``steps`` steps."""
    from wann_engine.genome import initial_genome
    from wann_engine.tasks.carracing import CarRacingTask

    task = CarRacingTask()
    rng = np.random.default_rng(0)
    nets = [initial_genome(16, 3, rng, 0.5).network() for _ in range(episodes)]
    t = clock()
    s = task.score(nets, np.array([1.0]), (0,), 1, steps, 1)
    dt = clock() - t
    task.close()
    return dt / s.steps


def fidelity(png: Path | None, seeds: int = 3) -> None:
    """gymnasium's frame and the raster frame at the same states: driving states of a few episodes (the
    zoom animation included) and states with the car moved off the road and to the field's edge."""
    import gymnasium as gym

    from wann_engine.tasks import carracing_encoder as ce
    from wann_engine.tasks import carracing_raster as raster
    from wann_engine.tasks.carracing_train import write_png

    enc = ce.load()
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    for seed in range(seeds):
        env = gym.make("CarRacing-v3", disable_env_checker=True)
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for t in range(400):
            if t in (0, 20, 60, 150, 399):
                pairs.append((f"seed {seed} step {t}", raster.reference(env), raster.frame(env)))
            env.step(np.array([0.6 * np.sin(t / 25) + rng.normal(0, 0.1), 0.35, 0.0], np.float32))
        u = env.unwrapped
        for name, where in (("off the road", (12.0, -9.0)), ("field edge", (330.0 - u.car.hull.position[0], 0.0))):
            for b in [u.car.hull, *u.car.wheels]:
                b.position = (b.position[0] + where[0], b.position[1] + where[1])
            pairs.append((f"seed {seed} {name}", raster.reference(env), raster.frame(env)))
        env.close()
    gym_f = np.stack([g for _, g, _ in pairs])
    fast_f = np.stack([f for _, _, f in pairs])
    mad = np.abs(gym_f.astype(np.int16) - fast_f).mean(axis=(1, 2, 3))
    zg, zf = enc.encode64(gym_f), enc.encode64(fast_f)
    dz = np.abs(zg - zf).mean(axis=1)
    print(f"fidelity over {len(pairs)} states: mean |pixel difference| median {np.median(mad):.3f}, "
          f"max {mad.max():.3f} (of 255); pixels off by more than 20: "
          f"{(np.abs(gym_f.astype(np.int16) - fast_f).max(axis=3) > 20).mean() * 100:.2f} %")
    print(f"  encoder: mean |z difference| median {np.median(dz):.4f}, max {dz.max():.4f}; "
          f"mean |z| {np.abs(zg).mean():.3f}, standard deviation of z across these states "
          f"{zg.std(axis=0).mean():.3f}")
    if png is not None:
        pick = [0, 2, 4, 5, 6, 8]  # zoom start, driving, off the road, field edge
        pick = [i for i in pick if i < len(pairs)]
        gap = np.full((64, 4, 3), 255, np.uint8)
        rows = []
        for i in pick:
            diff = np.clip(np.abs(gym_f[i].astype(np.int16) - fast_f[i]) * 4, 0, 255).astype(np.uint8)
            rows.append(np.concatenate([gym_f[i], gap, fast_f[i], gap, diff], axis=1))
        sep = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
        grid = np.concatenate([r for row in rows for r in (row, sep)][:-1], axis=0)
        write_png(png, np.kron(grid, np.ones((3, 3, 1), np.uint8)))
        print(f"  {png}: rows {[pairs[i][0] for i in pick]}; columns gymnasium, raster, |difference| x 4")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200, help="steps per env timing")
    ap.add_argument("--episodes", type=int, default=16, help="parallel episodes of the task timing")
    ap.add_argument("--task-steps", type=int, default=150, help="steps per episode of the task timing")
    ap.add_argument("--png", type=Path, default=None, help="write the fidelity figure")
    ap.add_argument("--fidelity-only", action="store_true")
    a = ap.parse_args()
    if not a.fidelity_only:
        r = a.repeats
        phys = median_of(lambda: env_step("physics", 5 * a.steps), r)
        gym_s = median_of(lambda: env_step("gym", a.steps // 2), r)
        fast = median_of(lambda: env_step("raster", 2 * a.steps), r)
        frame = median_of(lambda: raster_frame(500), r)
        enc = {b: median_of(lambda b=b: encode_frame(b, max(2, 64 // b)), r) for b in (1, 16, 64)}
        task = median_of(lambda: task_step(a.episodes, a.task_steps), r)
        shipped_task = task - fast + gym_s  # the same task with gymnasium's own frame
        print(f"medians of {r} runs, CPU time on one core")
        print(f"CarRacing-v3 physics + rewards alone   {phys * 1e3:7.3f} ms/step {1 / phys:8.0f} steps/s")
        print(f"CarRacing-v3 step as shipped (pygame)  {gym_s * 1e3:7.3f} ms/step {1 / gym_s:8.0f} steps/s")
        print(f"step with the raster frame             {fast * 1e3:7.3f} ms/step {1 / fast:8.0f} steps/s "
              f"({gym_s / fast:.1f}x the shipped step)")
        print(f"raster frame alone                     {frame * 1e3:7.3f} ms/frame")
        for b, e in enc.items():
            print(f"encoder, batches of {b:3d}                {e * 1e3:7.3f} ms/frame {1 / e:8.0f} frames/s")
        print(f"carracing task, {a.episodes} parallel episodes    {task * 1e3:7.3f} ms/step {1 / task:8.0f} steps/s "
              f"(raster + batched encoding + networks)")
        print(f"  the same with gymnasium's frame    ~{shipped_task * 1e3:7.3f} ms/step "
              f"{1 / shipped_task:8.0f} steps/s (task - raster step + shipped step); "
              f"task speed-up {shipped_task / task:.1f}x")
        print(f"preset carracing, one generation (768 episodes x <= 1000 steps) on one core: "
              f"{PRESET_STEPS * task / 3600:.2f} h (with gymnasium's frame "
              f"{PRESET_STEPS * shipped_task / 3600:.2f} h); "
              f"1024 generations {PRESET_STEPS * task * 1024 / 86400:.0f} core-days")
    if a.png is not None or a.fidelity_only:
        fidelity(a.png)


if __name__ == "__main__":
    main()
