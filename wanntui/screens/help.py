"""The ``?`` overlay: every key, grouped by where it works."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# wann-tui keys

**Everywhere**: `?` this help · `ctrl+p` command palette · `q` quit (runs keep going) · `tab` next pane

## Run browser
| key | action |
| --- | --- |
| `enter` / `o` | open the selected run's live view (a sweep's row: the sweep view) |
| `home` / `end` | first / last run |
| `n` | new run: task (preset, task or `gym:<EnvId>`; `→` completes), population, generations, ... |
| | workers, seed, name, threads, `--set key=value` overrides |
| `N` | new run from the selected run's configuration (the form, pre-filled) |
| `l` (or `L`) | log: why the run failed (error event, `engine.log` with the traceback, launch log) |
| `p` / `c` | pause / continue (running / paused runs) |
| `s` | stop gracefully: checkpoint, then exit; resumable |
| `K` | kill the engine (asks; the last checkpoint stays) |
| `r` | resume a stopped or crashed run |
| `d` | delete the run folder (asks, default no; on a running run it says to stop it first) |
| `t` | notes and tags of the run (kept in the run's `notes.json`) |
| `R` / `A` | rename / archive (to the runs folder's `.archive/`) a run that is not running |
| `/` | filter: words match name, task, state, tags, notes; `state:crashed`, `task:gym`, `kind:sweep`, `tag:x`, `#x` |
| `S` | sort: newest first, last updated, best, name, task, state |
| `O` | the open run views: switch to one (also in the palette: "view: NAME") |
| `space` | mark / unmark the selected run for comparison (marked rows show the run's colour) |
| `v` | compare the marked runs (two or more): fitness curves overlaid, a table of final numbers |

## Live view of a run
| key | action |
| --- | --- |
| `1` `2` `3` `4` | focus fitness / Pareto / network / per-weight pane |
| `z` | maximize the focused pane (`escape` restores) |
| `a` | Pareto axes: mean vs connections / mean vs peak |
| `g` | network: layered drawing / list of each node's sources |
| `y` | fitness: y range auto / from zero / log scale (when every value is positive) |
| `l` | fitness: all generations / the last 100 / the last 1000 |
| `x` | fitness: x as generation / evaluations / wall time |
| arrows, `pgup`/`pgdn` | scroll the focused pane (network, table) |
| `[` / `]` | previous / next open run |
| `escape` / `b` | back to the run browser (the view stays open) |
| `w` | close this run's view |
| `e` / `f` | weight explorer on the champion / on a member of the first Pareto front (from the checkpoint) |
| `p` `c` `s` `K` `r` | as in the browser, for this run |
| `L` | this run's log (error event, engine output, traceback) |

## Sweep view (`enter` on a sweep's row)
| key | action |
| --- | --- |
| `enter` | open the selected member's live view (`escape` there comes back here) |
| `x` | curves: x as generation / evaluations / wall time |
| `m` | curves, table and test on the re-tested champion's score / the raw best mean |
| `t` | threshold of "reached", "time to" and "gen to" (empty for none; swing-up: 600) |
| `u` | Mann–Whitney U test: the next pair of settings (three settings or more) |
| `1` `2` `3` | focus the curves / the table per setting / the members |
| `z` | maximize the focused pane (`escape` restores) |
| `escape` / `b` | back to the run browser |

## Compare runs
| key | action |
| --- | --- |
| `1` / `2` | focus the curves / the table |
| `z` | maximize the focused pane (`escape` restores) |
| `escape` / `b` | back to the run browser (the marks stay) |

## Weight explorer (`e` in a live view, or `wann-tui explore FILE --task T`)
| key | action |
| --- | --- |
| `left` / `right` | shared weight -0.05 / +0.05 (over -3..3) |
| `shift+left` / `shift+right`, `,` / `.` | shared weight -0.5 / +0.5 |
| `m` | jump to the best weight of the performance profile |
| `up` / `down` | select a connection |
| `+` / `-` | nudge the selected connection's offset from the shared weight by +0.1 / -0.1 |
| `0` / `x` | reset the selected offset / all offsets |
| `space` / `n` / `r` | rollout: pause or play / one step / restart with the next episode seed |
| `ctrl+s` | save the tuned network (weight and offsets) beside the source file |
| `escape` / `b` | close the explorer |

The footer shows only the keys that apply to the selected run's state, run controls first; a pane's own keys
(`y l x`, `a`, `g`) show while that pane is focused and work from any pane. When a run ends (finished,
stopped or crashed, whoever started it) the console rings the terminal bell and says so.
The palette's "Screenshot" saves an SVG into the run folder on screen (or the runs folder) and names it.
Runs are separate processes: quitting the console or losing the SSH link leaves them running;
open the console again to re-attach (the whole history is read back from `events.jsonl`).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
