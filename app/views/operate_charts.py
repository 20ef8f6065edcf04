"""The Operate dashboard's live charts (pyqtgraph: QtCharts is not in PySide6-Essentials).

pyqtgraph and numpy take ~1.5 s to import here (``-X importtime``), so this module is loaded
with the Operate workspace, never at the studio's start-up.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QWidget

from app import theme
from app.services.operate import History

pg.setConfigOptions(antialias=True)

# chart title, left-axis label, the History series drawn (series, legend name)
CHARTS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "throughput": ("Records per second", "per s", (("events_per_second", "handled"),)),
    "latency": ("Time to reach Salesforce", "seconds", (("p50", "typical (p50)"),
                                                        ("p99", "slowest 1% (p99)"))),
    "errors": ("Refused per second", "per s", (("errors_per_second", "refused"),)),
    "api": ("Salesforce API calls today", "calls", (("api_used", "used"),)),
}
COLOURS = ("#2f80ed", "#eb5757", "#27ae60", "#f2994a")


class Charts(QWidget):
    """Four small plots over the last minutes of a runner's :class:`History`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        dark = theme.current_theme() == "dark"
        background, foreground = ("#1e1f22", "#d0d0d0") if dark else ("#ffffff", "#333333")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.foreground = foreground
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        for i, (key, (title, unit, series)) in enumerate(CHARTS.items()):
            plot = pg.PlotWidget(background=background)
            plot.setObjectName(f"chart_{key}")
            plot.setTitle(title, color=foreground, size="10pt")
            plot.setLabel("left", unit, color=foreground)
            plot.setLabel("bottom", "seconds ago", color=foreground)
            plot.showGrid(x=True, y=True, alpha=0.2)
            for axis in ("left", "bottom"):  # "per s (x0.001)" reads as noise to people
                plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMinimumHeight(140)
            if len(series) > 1:
                plot.addLegend(offset=(5, 5))
            for j, (name, label) in enumerate(series):
                self.curves[(key, name)] = plot.plot([], [], name=label,
                                                     pen=pg.mkPen(COLOURS[j], width=2))
            self.plots[key] = plot
            layout.addWidget(plot, i // 2, i % 2)
        # The daily limit, a dashed line on the API chart.
        dashed = pg.mkPen(COLOURS[1], width=1, style=Qt.PenStyle.DashLine)
        self.limit_line = pg.InfiniteLine(angle=0, movable=False, pen=dashed,
                                          label="daily limit", labelOpts={"color": COLOURS[1]})
        self.limit_line.hide()
        self.plots["api"].addItem(self.limit_line)

    def show_history(self, history: History) -> None:
        empty = set(CHARTS)
        for (key, name), curve in self.curves.items():
            xs, ys = history.series(name)
            curve.setData(xs, ys)
            if ys:
                empty.discard(key)
        for key, (title, _unit, _series) in CHARTS.items():
            # Latency has no value before the first record is written; say so.
            self.plots[key].setTitle(title + (" (nothing yet)" if key in empty else ""),
                                     color=self.foreground, size="10pt")
        latest = history.latest
        if latest is not None and latest.api_max:
            self.limit_line.setValue(latest.api_max)
            self.limit_line.show()
        else:
            self.limit_line.hide()
