"""``wann-engine export``: DOT that Graphviz renders, the original matrix, and npz + a numpy-only forward pass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import engine

from wann_engine import netfile, rundir
from wann_engine.cli import main
from wann_engine.config import Config
from wann_engine.netfile import genome_from_matrix, read_any
from wann_engine.protocol import save_tuned
from wann_engine.tasks.swingup import INPUT_NAMES, OUTPUT_NAMES

DATA = Path(__file__).parents[1] / "data"
SWING = DATA / "swing.out"
BIPED = SimpleNamespace(name="biped", n_inputs=24, n_outputs=4, input_names=tuple(f"obs_{i}" for i in range(24)),
                        output_names=("hip1", "knee1", "hip2", "knee2"))


def export(*args: str | Path) -> tuple[int, str, str]:
    """``wann-engine export ARGS`` in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["export", *map(str, args)])
    return int(ex.value.code or 0), out.getvalue(), err.getvalue()


def random_genome(rng: np.random.Generator, n_in: int, n_out: int, n_hidden: int, density: float = 0.06):
    """A random feed-forward network in the original matrix form (some genes disabled)."""
    n = 1 + n_in + n_hidden + n_out
    mat = np.zeros((n, n + 1))
    for s in range(n):
        for d in range(max(s + 1, 1 + n_in), n):
            if d >= n - n_out and s >= n - n_out:
                continue
            if rng.random() < density:
                mat[s, d] = np.nan if rng.random() < 0.15 else 1.0
    mat[:, n] = rng.integers(1, 12, n)
    return genome_from_matrix(mat, n_in, n_out)


def run_standalone(folder: Path, npz: str, x: np.ndarray, **kw) -> np.ndarray:
    """Import the copied wann_forward.py in a fresh interpreter and run it; asserts only numpy was loaded."""
    np.save(folder / "x.npy", x)
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "import wann_forward as wf\n"
        f"net = wf.load({npz!r})\n"
        f"y = wf.forward(net, np.load('x.npy'){', ' + args if args else ''})\n"
        "np.save('y.npy', y)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('wann_engine', 'wanntui', 'numba', 'textual')]\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return np.load(folder / "y.npy")


def test_dot_is_layered_labelled_and_renders_with_graphviz(tmp_path: Path):
    src = shutil.copy(SWING, tmp_path / "swing.out")
    rc, out, err = export(src, "--to", "dot")
    assert rc == 0, err
    dot_file = tmp_path / "swing.dot"
    assert str(dot_file) in out and "52 connections" in out
    text = dot_file.read_text()
    assert "rankdir=LR" in text
    net = read_any(SWING, 5, 1).network()
    hidden_depths = set(net.depth[net.n_in + 1 : net.n_nodes - net.n_out].tolist())
    assert text.count("rank=same") == len(hidden_depths) + 2  # inputs, each hidden layer, outputs
    for name in (*INPUT_NAMES, "bias"):
        assert f'label="{name}"' in text
    assert 'label="force\\nlinear"' in text
    for act in ("gauss", "tanh", "inverse", "relu", "sin"):
        assert f'label="{act}"' in text
    assert len(re.findall(r"^\s*n\d+ -> n\d+;$", text, re.M)) == 52
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (Debian package graphviz)")
    p = subprocess.run(["dot", "-Tsvg", str(dot_file)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "syntax error" not in p.stderr, p.stderr
    assert "<svg" in p.stdout and "theta_dot" in p.stdout and "force" in p.stdout


def test_dot_shows_unused_inputs_dashed_and_grey(tmp_path: Path):
    # bias -> out, x -> hidden(tanh) -> out; x_dot, cos, sin, theta_dot unused
    mat = np.zeros((8, 9))
    mat[0, 7] = mat[1, 6] = mat[6, 7] = 1.0
    mat[2, 7] = np.nan  # a disabled gene does not make its source used
    mat[:, 8] = [1, 1, 1, 1, 1, 1, 5, 1]
    g = genome_from_matrix(mat, 5, 1)
    netfile.write_out(g, tmp_path / "small.out")
    rc, _, err = export(tmp_path / "small.out", "-o", tmp_path / "small.dot")
    assert rc == 0, err
    lines = (tmp_path / "small.dot").read_text().splitlines()
    for name in ("x_dot", "cos(theta)", "sin(theta)", "theta_dot"):
        line = next(ln for ln in lines if f'label="{name}' in ln)
        assert "dashed" in line and "grey" in line and "unused" in line
    x_line = next(ln for ln in lines if 'label="x"' in ln)
    assert "dashed" not in x_line and 'label="tanh"' in "\n".join(lines)
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (Debian package graphviz)")
    assert subprocess.run(["dot", "-Tsvg", str(tmp_path / "small.dot")], capture_output=True).returncode == 0


def test_out_round_trips_the_network(tmp_path: Path):
    rc, _, err = export(SWING, "--to", "out", "-o", tmp_path / "again.out")
    assert rc == 0, err
    a, b = read_any(SWING, 5, 1).network(), read_any(tmp_path / "again.out", 5, 1).network()
    assert np.array_equal(a.edges(), b.edges()) and np.array_equal(a.act, b.act)


def test_npz_forward_matches_the_engine_on_the_swing_champion(tmp_path: Path):
    src = shutil.copy(SWING, tmp_path / "swing.out")
    rc, out, err = export(src, "--to", "npz")
    assert rc == 0, err
    assert (tmp_path / "swing.npz").is_file() and (tmp_path / "wann_forward.py").is_file()
    assert "wann_forward.py" in out
    net = read_any(SWING, 5, 1).network()
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, (257, 5))
    w = rng.uniform(-2, 2, 257)
    np.save(tmp_path / "w.npy", w)
    for weight in (-1.5, 0.5, 2.0):
        got = run_standalone(tmp_path, "swing.npz", x, weight=weight)
        assert got.shape == (257, 1)
        assert np.array_equal(got, net.forward(x, weight))
    # one weight per row
    code = ("import numpy as np, wann_forward as wf; net = wf.load('swing.npz'); "
            "np.save('y.npy', wf.forward(net, np.load('x.npy'), weight=np.load('w.npy')))")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    assert np.array_equal(np.load(tmp_path / "y.npy"), net.forward(x, w))
    # an .out has no stored weight: forward asks for one
    code = "import numpy as np, wann_forward as wf; wf.forward(wf.load('swing.npz'), np.zeros(5))"
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "pass weight=" in p.stderr


def test_npz_forward_matches_the_engine_on_a_random_larger_genome(tmp_path: Path):
    rng = np.random.default_rng(7)
    g = random_genome(rng, BIPED.n_inputs, BIPED.n_outputs, 90)
    net = g.network()
    assert net.n_conns > 150 and len(set(net.act.tolist())) >= 8
    netfile.write_json(g, tmp_path / "big.json", BIPED, fitness=1.0, weights=[-2, -1, 1, 2],
                       per_weight=[1.0, 5.0, 3.0, 2.0])
    rc, _, err = export(tmp_path / "big.json", "--to", "npz", "-o", tmp_path / "big.npz")
    assert rc == 0, err
    x = rng.normal(0, 1.5, (100, BIPED.n_inputs))
    got = run_standalone(tmp_path, "big.npz", x)  # the stored weight: the best of the champion's (-1)
    assert np.array_equal(got, net.forward(x, -1.0))
    z = np.load(tmp_path / "big.npz", allow_pickle=False)
    assert float(z["weight"]) == -1.0 and z["task"] == "biped"
    assert list(z["output_names"]) == list(BIPED.output_names) and int(z["n_in"]) == 24
    assert np.array_equal(z["edges"], net.edges()) and "conn_weights" not in z.files


def test_npz_keeps_tuned_connection_weights(tmp_path: Path):
    g = read_any(SWING, 5, 1)
    net = g.network()
    cw = np.random.default_rng(3).uniform(-2, 2, net.n_conns)
    task = SimpleNamespace(name="swingup", n_inputs=5, n_outputs=1, input_names=INPUT_NAMES,
                           output_names=OUTPUT_NAMES)
    save_tuned(tmp_path / "swing.tuned.json", g, task, cw, 1.25)
    rc, _, err = export(tmp_path / "swing.tuned.json", "--to", "npz", "-o", tmp_path / "tuned.npz")
    assert rc == 0, err
    x = np.random.default_rng(4).normal(0, 1, (50, 5))
    np.save(tmp_path / "x.npy", x)
    code = ("import numpy as np, wann_forward as wf; net = wf.load('tuned.npz'); "
            "np.save('y.npy', wf.forward(net, np.load('x.npy'), conn_weights=net['conn_weights'])); "
            "np.save('m.npy', wf.matrix(net, conn_weights=net['conn_weights'])); print(net['weight'])")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == 1.25
    # the original's forward pass (spec 2.4): node j = act(values . W[:, j]), in evaluation order
    from wann_engine.activations import apply

    W = np.load(tmp_path / "m.npy")
    vals = np.zeros((50, net.n_nodes))
    vals[:, 0], vals[:, 1:6] = 1.0, x
    for j in range(6, net.n_nodes):
        vals[:, j] = apply(int(net.act[j]), vals @ W[:, j])
    assert np.allclose(np.load(tmp_path / "y.npy"), vals[:, -1:], rtol=1e-12, atol=1e-12)


def test_run_directory_exports_its_champion_with_the_run_task(tmp_path: Path):
    run = tmp_path / "runs" / "big-run"
    run.mkdir(parents=True)
    rundir.write_config(run, Config.from_dict({"task": "biped"}))
    g = random_genome(np.random.default_rng(11), 24, 4, 20)
    netfile.write_json(g, run / rundir.CHAMPION_JSON, BIPED, weights=[-2, 2], per_weight=[1.0, 3.0])
    work = tmp_path / "here"
    work.mkdir()
    p = engine("export", str(run), "--to", "dot", cwd=work)
    assert p.returncode == 0, p.stderr
    text = (work / "big-run.dot").read_text()
    assert "biped:" in text and "best shared weight 2" in text and 'label="knee2\\n' in text
    p = engine("export", str(run), "--to", "dot", "--task", "swingup", cwd=work)
    assert p.returncode == 2 and "for task 'biped', not 'swingup'" in p.stderr
    empty = tmp_path / "runs" / "empty"
    empty.mkdir()
    rundir.write_config(empty, Config())
    rc, _, err = export(empty, "--to", "dot", "-o", tmp_path / "e.dot")
    assert rc == 2 and "no champion yet" in err


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing.out", "--to", "dot"], "missing.out: no such file"),
    (["{swing}", "--to", "svg", "-o", "{tmp}/x.svg"], "--to 'svg': unknown format"),
    (["{swing}", "-o", "{tmp}/x.png"], "--to is missing"),
    (["{swing}", "--to", "dot", "-o", "{tmp}/exists.dot"], "exists.dot: exists (use --force"),
    (["{swing}", "--to", "out", "-o", "{swing}"], "is the input file"),
    (["{swing}", "--to", "npz", "-o", "-"], "cannot go to stdout"),
    (["{tmp}/garbage.out", "--to", "dot"], "garbage.out: not a readable .out matrix"),
    (["{swing}", "--to", "dot", "--task", "nosuch", "-o", "{tmp}/n.dot"], "unknown task 'nosuch'"),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, args, message):
    swing = shutil.copy(SWING, tmp_path / "swing.out")
    (tmp_path / "exists.dot").write_text("keep me\n")
    (tmp_path / "garbage.out").write_text("not, a, matrix\n")
    args = [a.format(tmp=tmp_path, swing=swing) for a in args]
    before = {q.name: q.read_bytes() for q in tmp_path.iterdir()}
    p = engine("export", *args)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert err[0].startswith("wann-engine: error:") and message in err[0], err[0]
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert {q.name: q.read_bytes() for q in tmp_path.iterdir()} == before  # nothing written or replaced


def test_force_replaces_and_dot_goes_to_stdout(tmp_path: Path):
    (tmp_path / "s.dot").write_text("old\n")
    rc, _, err = export(SWING, "--to", "dot", "-o", tmp_path / "s.dot", "--force")
    assert rc == 0, err
    assert (tmp_path / "s.dot").read_text().startswith("digraph wann {")
    rc, out, _ = export(SWING, "--to", "dot", "-o", "-")
    assert rc == 0 and out == (tmp_path / "s.dot").read_text()
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]  # no temp files left
