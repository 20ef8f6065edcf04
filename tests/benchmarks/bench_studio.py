"""Benchmark: the studio opening a 1,000- and a 10,000-field schema, and previewing 1,000 records.

Run it as a script (it is not a test)::

    .venv/bin/python tests/benchmarks/bench_studio.py

Targets (issue 12): opening 1,000 fields < 0.25 s, 10,000 fields < 1 s, preview < 0.1 s
(issue 5 had 0.5 s for each). Each figure is measured with a baseline from the same run,
so a slow machine shows as a slow baseline rather than as a slow studio:

* open: a workspace whose flow reads a 1,000-field Stripe object into a 1,000-field
  Salesforce object (250 mapped) is opened in the shown main window, and the event queue is
  drained and the window repainted: schema trees, canvas (one item per field) and status bar.
  Baseline: building the two 1,000-field ObjectSchema models alone. Also timed: the schema
  tree alone (model + view over the 1,000 fields).
* open 10,000: the same with a 10,000-field source and target (still 250 mapped), the size
  of a big org's widest objects. Baseline: building those two models.
* preview: the preview table is given 1,000 sample records of the shipped charges-payments
  flow and repainted (it maps the rows it shows), and again with every row mapped, which is
  the figure held to the target. Baseline: the engine alone (compile + apply on the same
  1,000 records).

Each case runs ``BENCH_ROUNDS`` times (default 5) and the best round counts; the median is
printed too. The last line printed is a JSON object of the figures, in seconds.

The opens are also timed in CPU seconds of this process (``*_cpu_s``, best and median), and
the machine's 1-minute load average is printed before and after (``load_avg_1m``): on the
shared 2-core machine a wall-clock median far above the CPU one is other processes' work,
not the studio's.

The process is the studio's as it runs for a user, without what would time something else:

* the local sandboxes are not warmed up (``warm_up=False``). The shown window would start
  them in the background (importing the Stripe SDK in a thread that holds the GIL, then two
  server processes and the demo seed competing for the 2 cores): that was the "first opens
  are slower" of earlier runs (0.1-0.45 s of CPU more per open while it lasted) and with
  it the median far above the best.
* start-up objects are frozen out of the garbage collector as ``app.main`` does once its
  window is up (:func:`app.main.freeze_start_up_objects`), so the full collection Python
  runs every few opens walks only what opening made (0.02 s of CPU, not 0.07-0.08 s).

Warm-up: each workspace is opened once, untimed, before its timed rounds, so a cost paid
once per process stays out of them (without the sandboxes' start, the first open measured
about the CPU time of the next ones). The baselines are pure Python model building and need
no warm-up; they are timed the same way (best of rounds).
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QTreeView  # noqa: E402

from mappings.document.model import (  # noqa: E402
    Action,
    FieldMapping,
    Flow,
    MappingDocument,
    ObjectRef,
    Operation,
    Trigger,
)
from mappings.document.yamlio import load_document, save_document  # noqa: E402
from mappings.engine import compile_flow  # noqa: E402
from mappings.schema.model import FieldKind, FieldSchema, ObjectSchema, System  # noqa: E402

FIELDS = 1000
BIG_FIELDS = 10_000
RECORDS = 1000
MAPPED = 250
TARGET_S = 0.5  # issue 5, kept for the preview with every row mapped
OPEN_TARGET_S = 0.25  # issue 12
BIG_OPEN_TARGET_S = 1.0  # issue 12
PREVIEW_TARGET_S = 0.1  # issue 12
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
_KINDS = (FieldKind.STRING, FieldKind.INTEGER, FieldKind.BOOLEAN, FieldKind.TIMESTAMP)
_SF_KINDS = (FieldKind.STRING, FieldKind.NUMBER, FieldKind.BOOLEAN, FieldKind.DATETIME)


def big_objects(fields: int = FIELDS, suffix: str = "") -> tuple[ObjectSchema, ObjectSchema]:
    """A ``fields``-field Stripe object and a ``fields``-field Salesforce object."""
    source = ObjectSchema(System.STRIPE, f"bench_object{suffix}", label="Bench object")
    for i in range(fields):
        kind = _KINDS[i % len(_KINDS)]
        path = f"field_{i:04d}"
        source.fields[path] = FieldSchema(
            path, kind, native_type=kind.value, description=f"Field number {i} of the benchmark"
        )
    target = ObjectSchema(System.SALESFORCE, f"Bench{suffix}__c", label="Bench", custom=True)
    target.fields["Id"] = FieldSchema(
        "Id", FieldKind.ID, native_type="id", createable=False, updateable=False
    )
    target.fields["External__c"] = FieldSchema(
        "External__c", FieldKind.STRING, native_type="string", external_id=True, unique=True
    )
    for i in range(fields - 2):
        kind = _SF_KINDS[i % len(_SF_KINDS)]
        path = f"Field_{i:04d}__c"
        target.fields[path] = FieldSchema(path, kind, native_type=kind.value, label=f"Field {i}")
    return source, target


def big_document(suffix: str = "") -> MappingDocument:
    fields = [FieldMapping(target="External__c", sources=["id"])]
    for i in range(0, MAPPED * 4, 4):  # strings to strings, so no transform is needed
        fields.append(FieldMapping(target=f"Field_{i:04d}__c", sources=[f"field_{i:04d}"]))
    flow = Flow(
        name="bench-flow",
        trigger=Trigger(stripe_events=[f"bench_object{suffix}.updated"]),
        source=ObjectRef(System.STRIPE, f"bench_object{suffix}"),
        target=ObjectRef(System.SALESFORCE, f"Bench{suffix}__c"),
        operation=Operation(Action.UPSERT, external_id="External__c"),
        fields=fields[: MAPPED + 1],
    )
    return MappingDocument(name="bench", flows=[flow])


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(best, median) seconds over ROUNDS runs of ``fn``."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def settle(app: QApplication, widget) -> None:
    app.processEvents()
    widget.repaint()
    app.processEvents()


def _scene(window: Any) -> Any:
    canvas = window.canvas
    return canvas.mapping_scene() if hasattr(canvas, "mapping_scene") else None


def charge_samples() -> tuple[MappingDocument, list[dict[str, Any]]]:
    doc = load_document(ROOT / "mappings" / "templates" / "charges-payments.yaml")
    fixtures = doc.flows[0].fixtures
    samples = []
    for i in range(RECORDS):
        sample = copy.deepcopy(fixtures[i % len(fixtures)].input)
        obj = sample.get("data", {}).get("object", sample)
        obj["id"] = f"ch_bench{i:06d}"
        obj["amount"] = 100 + i
        samples.append(sample)
    return doc, samples


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app import theme
    from app.document.document import StudioDocument, default_catalogs
    from app.main import freeze_start_up_objects
    from app.models.schema_model import SchemaTreeModel
    from app.services import Services
    from app.views.main_window import MainWindow
    from app.workspace import studio_settings

    theme.apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    source, target = big_objects()
    catalogs = default_catalogs()
    catalogs[System.STRIPE].objects[source.name] = source
    catalogs[System.SALESFORCE].objects[target.name] = target
    big_source, big_target = big_objects(BIG_FIELDS, "_10k")
    catalogs[System.STRIPE].objects[big_source.name] = big_source
    catalogs[System.SALESFORCE].objects[big_target.name] = big_target
    workspace = tmp / "ws"
    workspace.mkdir()
    save_document(big_document(), workspace / "bench.yaml")
    big_workspace = tmp / "ws10k"
    big_workspace.mkdir()
    save_document(big_document("_10k"), big_workspace / "bench.yaml")

    load_before = os.getloadavg()[0]
    window = MainWindow(
        StudioDocument(catalogs=catalogs),
        settings=studio_settings(tmp / "settings.ini"),
        ask_unsaved=lambda _p, _n: "discard",
        services=Services(config_path=tmp / "conn.json", sandbox_dir=tmp / "sb"),
        warm_up=False,  # see the docstring: the sandboxes' start is not an open
    )
    window.resize(1400, 900)
    window.show()
    window.open_template("payouts")
    settle(app, window)
    freeze_start_up_objects()

    # -- opening a 1,000-field schema ------------------------------------------------------
    baseline_open = timed(big_objects)

    def open_workspace(path: Path, times: list[float], cpu: list[float]) -> None:
        window.open_template("payouts")  # something else first, so each round really opens
        app.processEvents()
        start, start_cpu = time.perf_counter(), time.process_time()
        assert window.open_workspace(path), window.errors.model.entries[-1].summary
        settle(app, window)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)

    open_times: list[float] = []
    open_cpu: list[float] = []
    big_open_times: list[float] = []
    big_open_cpu: list[float] = []
    open_workspace(workspace, [], [])  # warm-up, untimed (see the docstring)
    for _ in range(ROUNDS):
        open_workspace(workspace, open_times, open_cpu)
    baseline_big_open = timed(lambda: big_objects(BIG_FIELDS, "_10k"))
    open_workspace(big_workspace, [], [])  # warm-up, untimed
    for _ in range(ROUNDS):
        open_workspace(big_workspace, big_open_times, big_open_cpu)
    big_canvas_items = len(scene.target_items) if (scene := _scene(window)) is not None else 0
    open_workspace(workspace, [], [])  # back to the 1,000-field flow for the counts below
    flow = window.document.flow("bench-flow")
    scene = _scene(window)
    canvas_items = len(scene.target_items) if scene is not None else 0

    tree = QTreeView()
    tree.resize(300, 700)
    tree.show()
    tree_model = SchemaTreeModel()
    tree.setModel(tree_model)

    def tree_only() -> None:
        tree_model.set_object(None)
        tree_model.set_object(source)
        settle(app, tree)

    tree_best, tree_median = timed(tree_only)

    # -- previewing 1,000 records ----------------------------------------------------------
    doc, samples = charge_samples()
    charge_flow = doc.flows[0]
    payment = catalogs[System.SALESFORCE].get(charge_flow.target.object)

    def engine_only() -> None:
        plan = compile_flow(charge_flow, doc, payment)
        for sample in samples:
            plan.apply(sample)

    baseline_preview = timed(engine_only)
    window.open_template("charges-payments")
    settle(app, window)
    panel = window.preview_panel
    model = panel.model
    window.bottom_tabs.setCurrentWidget(panel)
    flow_name = window.document.current_flow

    def preview() -> None:
        model.set_flow(flow_name, [])
        app.processEvents()
        start = time.perf_counter()
        model.set_flow(flow_name, samples)
        settle(app, panel)
        preview_times.append(time.perf_counter() - start)

    preview_times: list[float] = []
    for _ in range(ROUNDS):
        preview()
    assert model.rowCount() == RECORDS

    # The table maps a row when it is first shown; a user scrolling through every record (or
    # anything that counts all issues) pays for all 1,000. Timed too, and held to the target.
    def preview_all_rows() -> None:
        model.set_flow(flow_name, [])
        app.processEvents()
        start = time.perf_counter()
        model.set_flow(flow_name, samples)
        results = model.compute_all()
        settle(app, panel)
        all_rows_times.append(time.perf_counter() - start)
        assert len(results) == RECORDS

    all_rows_times: list[float] = []
    for _ in range(ROUNDS):
        preview_all_rows()

    figures = {
        "open_schema_1000_fields_s": round(min(open_times), 4),
        "open_schema_1000_fields_median_s": round(statistics.median(open_times), 4),
        "open_schema_1000_fields_cpu_s": round(min(open_cpu), 4),
        "open_schema_1000_fields_cpu_median_s": round(statistics.median(open_cpu), 4),
        "open_schema_baseline_model_s": round(baseline_open[0], 4),
        "open_schema_10000_fields_s": round(min(big_open_times), 4),
        "open_schema_10000_fields_median_s": round(statistics.median(big_open_times), 4),
        "open_schema_10000_fields_cpu_s": round(min(big_open_cpu), 4),
        "open_schema_10000_fields_cpu_median_s": round(statistics.median(big_open_cpu), 4),
        "open_schema_10000_baseline_model_s": round(baseline_big_open[0], 4),
        "schema_tree_only_s": round(tree_best, 4),
        "preview_1000_records_s": round(min(preview_times), 4),
        "preview_1000_records_median_s": round(statistics.median(preview_times), 4),
        "preview_1000_records_all_rows_s": round(min(all_rows_times), 4),
        "preview_baseline_engine_s": round(baseline_preview[0], 4),
        "target_s": TARGET_S,
        "open_target_s": OPEN_TARGET_S,
        "open_10000_target_s": BIG_OPEN_TARGET_S,
        "preview_target_s": PREVIEW_TARGET_S,
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"rounds: {ROUNDS} (best counts); load average (1 min) before {load_before:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print(f"open a workspace on a {FIELDS}-field source and target ({len(flow.fields)} mapped, "
          f"{canvas_items} canvas target items): best {figures['open_schema_1000_fields_s']:.3f} s, "
          f"median {figures['open_schema_1000_fields_median_s']:.3f} s")  # fmt: skip
    print(f"  CPU time: best {min(open_cpu):.3f} s, median {statistics.median(open_cpu):.3f} s")
    print(f"  baseline, building the two ObjectSchema models: {baseline_open[0]:.4f} s")
    print(f"open a workspace on a {BIG_FIELDS}-field source and target ({big_canvas_items} "
          f"canvas target items): best {figures['open_schema_10000_fields_s']:.3f} s, "
          f"median {figures['open_schema_10000_fields_median_s']:.3f} s")  # fmt: skip
    print(f"  CPU time: best {min(big_open_cpu):.3f} s, "
          f"median {statistics.median(big_open_cpu):.3f} s")
    print(f"  baseline, building the two ObjectSchema models: {baseline_big_open[0]:.4f} s")
    print(f"  schema tree alone (model + view): best {tree_best:.4f} s, median {tree_median:.4f} s")
    print(f"preview {RECORDS} records: best {figures['preview_1000_records_s']:.3f} s, "
          f"median {figures['preview_1000_records_median_s']:.3f} s")  # fmt: skip
    print(f"  every row mapped (as when scrolled through): best "
          f"{figures['preview_1000_records_all_rows_s']:.3f} s")
    print(f"  baseline, the engine alone (compile + apply): {baseline_preview[0]:.4f} s")
    checks = [
        ("open 1,000 fields", figures["open_schema_1000_fields_s"], OPEN_TARGET_S),
        ("open 10,000 fields", figures["open_schema_10000_fields_s"], BIG_OPEN_TARGET_S),
        ("preview 1,000 records", figures["preview_1000_records_s"], PREVIEW_TARGET_S),
        ("preview, every row mapped", figures["preview_1000_records_all_rows_s"], TARGET_S),
    ]
    for what, value, target_s in checks:
        print(f"target {what} < {target_s} s: {'met' if value < target_s else 'NOT met'}")
    window.document.undo_stack.setClean()
    window.close()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
