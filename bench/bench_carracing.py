"""Step rates of the ``carracing`` task on one core: CarRacing-v3's physics alone, with its state-pixel
rendering (what ``step`` does), and with the frames encoded (one at a time and batched over the episodes
of a generation), then the cost of a generation of the ``carracing`` preset.

    OMP_NUM_THREADS=1 python bench/bench_carracing.py [--steps 300] [--episodes 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def env_rate(steps: int, render: bool) -> float:
    import gymnasium as gym

    env = gym.make("CarRacing-v3", disable_env_checker=True)
    env.reset(seed=1)
    if not render:
        env.unwrapped._render = lambda *a, **k: None  # physics only: no state pixels
    a = np.array([0.0, 0.3, 0.0], np.float32)
    t = time.perf_counter()
    for _ in range(steps):
        env.step(a)
    dt = time.perf_counter() - t
    env.close()
    return steps / dt


def encode_rate(batch: int, reps: int = 5) -> float:
    from wann_engine.tasks import carracing_encoder as ce

    enc = ce.load()
    x = np.random.default_rng(0).integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    enc.encode(x)
    t = time.perf_counter()
    for _ in range(reps):
        enc.encode(x)
    return batch * reps / (time.perf_counter() - t)


def task_rate(episodes: int, steps: int) -> float:
    from wann_engine.genome import initial_genome
    from wann_engine.tasks.carracing import CarRacingTask

    task = CarRacingTask()
    rng = np.random.default_rng(0)
    nets = [initial_genome(16, 3, rng, 0.5).network() for _ in range(episodes)]
    t = time.perf_counter()
    s = task.score(nets, np.array([1.0]), (0,), 1, steps, 1)
    return s.steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--episodes", type=int, default=16)
    a = ap.parse_args()
    raw = env_rate(a.steps, render=False)
    pix = env_rate(a.steps, render=True)
    print(f"CarRacing-v3 physics only      {raw:8.1f} steps/s")
    print(f"CarRacing-v3 step (rendering)  {pix:8.1f} steps/s")
    for b in (1, 16, 64):
        print(f"encoder, batches of {b:3d}        {encode_rate(b):8.1f} frames/s")
    task = task_rate(a.episodes, a.steps // 2)
    print(f"carracing task ({a.episodes} episodes) {task:8.1f} steps/s (rendering + batched encoding + network)")
    per_gen = 64 * 6 * 2 * 1000 / task
    print(f"preset carracing: 768 episodes x <=1000 steps = {per_gen / 3600:.1f} h per generation on one core, "
          f"{per_gen * 1024 / 86400 / 365:.2f} years for 1024 generations")


if __name__ == "__main__":
    main()
