"""Batch queue: one row per image with its status and progress, and output options.

The panel owns the queue's rows and starts one batch job at a time through the shared
JobRunner; it never touches pixels itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from denoiser.gui import batch_plan
from denoiser.gui.batch_runner import BatchOptions, BatchPlan, BatchTask, plan_and_run
from denoiser.gui.qtcompat import emit
from denoiser.gui.workers import Job, JobRunner

COL_FILE, COL_STATUS, COL_PROGRESS = range(3)
STATUS_TEXT = {
    "queued": "Queued",
    "running": "Working…",
    "done": "Done",
    "error": "Failed",
    "cancelled": "Cancelled",
}


class BatchRow:
    def __init__(self, source: batch_plan.Source) -> None:
        self.source = source
        self.status = "queued"
        self.message = ""
        self.output: Path | None = None
        self.task: BatchTask | None = None


class BatchPanel(QWidget):
    """Queue table and options. ``options_provider`` returns the current model settings."""

    batchFinished = Signal(dict)
    message = Signal(str)
    queued = Signal(int, list)  # (rows added, unsupported files skipped) after add_paths

    def __init__(self, runner: JobRunner, options_provider: Callable[[], BatchOptions | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("batch_panel")
        self.runner = runner
        self.options_provider = options_provider
        self.rows: list[BatchRow] = []
        self.job: Job | None = None
        self.collecting: set[Job] = set()  # the folder walks of add_paths, in workers
        self._refused: str | None = None  # why the running job's plan was refused

        self.table = self._queue_table()
        form = self._options_form()
        buttons = self._buttons()
        self.summary = QLabel("")
        self.summary.setObjectName("batch_summary")
        self.summary.setWordWrap(True)

        # the queue on the left, where it can grow; the options on the right
        left = QVBoxLayout()
        left.addWidget(self.table, 1)
        left.addLayout(buttons)
        left.addWidget(self.summary)
        options = QWidget()
        options.setLayout(form)
        options.setMaximumWidth(460)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 1)
        lay.addWidget(options)

        self.start_btn.clicked.connect(self.start)
        self.cancel_sel_btn.clicked.connect(self.cancel_selected)
        self.cancel_all_btn.clicked.connect(self.cancel_all)
        self.clear_btn.clicked.connect(self.clear_finished)
        self.add_btn.clicked.connect(self._add_dialog)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        self._update_buttons()

    # ----- construction ------------------------------------------------------------
    def _queue_table(self) -> QTableWidget:
        """File, status and progress columns; whole rows select, nothing edits in place."""
        table = QTableWidget(0, 3)
        table.setObjectName("batch_table")
        table.setHorizontalHeaderLabels(["File", "Status", "Progress"])
        header = table.horizontalHeader()
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_FILE, 260)
        header.resizeSection(COL_PROGRESS, 110)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        return table

    def _options_form(self) -> QFormLayout:
        """Where results go, how they are named and encoded, and whether they may replace."""
        self.out_dir = QLineEdit()
        self.out_dir.setObjectName("output_dir")
        self.out_dir.setPlaceholderText("next to each original")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_out_dir)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        self.pattern = QLineEdit("{stem}_denoised")
        self.pattern.setObjectName("naming_pattern")
        self.pattern.setToolTip("Fields: {stem} (original name), {model}, {sigma}, {index}")
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("format_combo")
        for key, label in batch_plan.FORMAT_LABELS.items():
            self.format_combo.addItem(label, key)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(95)
        self.quality.setPrefix("quality ")
        fmt_row = QHBoxLayout()
        fmt_row.addWidget(self.format_combo, 1)
        fmt_row.addWidget(self.quality)
        self.keep_metadata = QCheckBox("Keep metadata (EXIF, colour profile)")
        self.keep_metadata.setChecked(True)
        self.overwrite = QCheckBox("Replace existing results")
        form = QFormLayout()
        form.addRow("Output folder", out_row)
        form.addRow("Name", self.pattern)
        form.addRow("Format", fmt_row)
        form.addRow("", self.keep_metadata)
        form.addRow("", self.overwrite)
        return form

    def _buttons(self) -> QHBoxLayout:
        self.start_btn = QPushButton("Start")
        self.start_btn.setObjectName("batch_start")
        self.cancel_sel_btn = QPushButton("Cancel selected")
        self.cancel_all_btn = QPushButton("Cancel all")
        self.cancel_all_btn.setObjectName("batch_cancel_all")
        self.clear_btn = QPushButton("Clear finished")
        self.add_btn = QPushButton("Add…")
        buttons = QHBoxLayout()
        for b in (self.add_btn, self.start_btn, self.cancel_sel_btn, self.cancel_all_btn,
                  self.clear_btn):
            buttons.addWidget(b)
        return buttons

    # ----- queue -----------------------------------------------------------------
    def add_paths(self, paths: list[str | Path],
                  then: Callable[[int, list[Path]], Any] | None = None) -> None:
        """Queue files and folders; ``queued`` (and ``then``) report (added, skipped).

        The folders are walked in a worker: on a large network share the walk takes
        long, and the window must stay responsive (and the walk cancellable) meanwhile.
        """
        pattern = self.pattern.text().strip()
        out_dir = self.out_dir.text().strip() or None
        self.summary.setText("Looking for images…")
        walk: list[Job] = []  # filled before any of the slots below can run (queued signals)

        def ended() -> None:
            self.collecting.difference_update(walk)
            self._update_buttons()

        def found(result: tuple[list[batch_plan.Source], list[Path]]) -> None:
            ended()
            self._queue(*result, then=then)

        def failed(msg: str) -> None:
            ended()
            self.summary.setText(msg)
            emit(self.message, msg)

        def cancelled() -> None:
            ended()
            self.summary.setText("Stopped looking for images.")

        walk.append(self.runner.submit(
            lambda job: batch_plan.collect(paths, pattern, out_dir, job.token), "collect",
            succeeded=found, failed=failed, cancelled=cancelled))
        self.collecting.update(walk)
        self._update_buttons()

    def _queue(self, sources: list[batch_plan.Source], skipped: list[Path],
               then: Callable[[int, list[Path]], Any] | None = None) -> None:
        """Add a walk's files as rows (each file at most once while queued)."""
        known = {r.source.path for r in self.rows if r.status == "queued"}
        added = 0
        for src in sources:
            if src.path in known:
                continue
            known.add(src.path)
            row = BatchRow(src)
            self.rows.append(row)
            self._add_table_row(row)
            added += 1
        self.summary.setText(f"Queued {added} image(s)." if added else "")
        self._update_buttons()
        if skipped:
            emit(self.message,
                 f"Skipped {len(skipped)} unsupported file(s), e.g. {skipped[0].name}.")
        if then is not None:
            then(added, skipped)
        emit(self.queued, added, skipped)

    def _add_table_row(self, row: BatchRow) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        name = str(row.source.path.relative_to(row.source.root)) if row.source.root \
            else row.source.path.name
        item = QTableWidgetItem(name)
        item.setToolTip(str(row.source.path))
        self.table.setItem(r, COL_FILE, item)
        self.table.setItem(r, COL_STATUS, QTableWidgetItem(STATUS_TEXT[row.status]))
        bar = QProgressBar()
        bar.setRange(0, 100)
        bar.setValue(0)
        bar.setTextVisible(True)
        self.table.setCellWidget(r, COL_PROGRESS, bar)

    def status_of(self, index: int) -> str:
        return self.rows[index].status

    def is_running(self) -> bool:
        return self.job is not None

    def start(self) -> None:
        """Start one batch job for the queued rows; it plans their outputs first, in its thread."""
        if self.job is not None:
            return
        opts = self.options_provider()
        if opts is None:
            emit(self.message, "Choose a model before starting the batch.")
            return
        opts.fmt = str(self.format_combo.currentData())
        opts.quality = self.quality.value()
        opts.keep_metadata = self.keep_metadata.isChecked()
        opts.overwrite = self.overwrite.isChecked()
        queued = [(i, r) for i, r in enumerate(self.rows) if r.status == "queued"]
        if not queued:
            emit(self.message, "The batch queue has nothing left to do.")
            return
        pattern = self.pattern.text().strip()
        problem = batch_plan.check_pattern(pattern)
        if problem:
            self._refuse(problem)
            return
        where = BatchPlan(self.out_dir.text().strip(), pattern,
                          [r.source.root for _, r in queued])
        tasks = []
        for i, row in queued:
            row.task = BatchTask(index=i, source=row.source.path)
            tasks.append(row.task)
        self._refused = None
        self.summary.setText(f"Working on {len(tasks)} image(s)…")
        self.job = self.runner.submit(
            lambda job: plan_and_run(job, tasks, opts, where), "batch",
            yielded=self._on_event, succeeded=self._on_finished,
            failed=self._on_failed, cancelled=lambda: self._on_finished(None),
        )
        self._update_buttons()

    def cancel_selected(self) -> None:
        for idx in sorted({i.row() for i in self.table.selectedIndexes()}):
            self.cancel_row(idx)

    def cancel_row(self, index: int) -> None:
        row = self.rows[index]
        if row.task is not None and row.status in ("queued", "running"):
            row.task.token.cancel()
        elif row.status == "queued":
            self._set_status(index, "cancelled")

    def cancel_all(self) -> None:
        for walk in self.collecting:
            walk.cancel()
        if self.job is not None:
            self.job.cancel()
        for i, row in enumerate(self.rows):
            if row.task is not None:
                row.task.token.cancel()
            elif row.status == "queued":
                self._set_status(i, "cancelled")

    def clear_finished(self) -> None:
        if self.job is not None:
            return
        keep = [r for r in self.rows if r.status == "queued"]
        self.rows = []
        self.table.setRowCount(0)
        for r in keep:
            self.rows.append(r)
            self._add_table_row(r)
        self._update_buttons()

    def _refuse(self, problem: str) -> None:
        """A plan that cannot run: say why; the rows stay queued for another try."""
        self.summary.setText(problem)
        emit(self.message, problem)

    # ----- job events ------------------------------------------------------------
    def _on_event(self, ev: tuple) -> None:
        kind, index = ev[0], ev[1]
        if kind == "refused":
            self._refused = str(index)
        elif kind == "planned":
            self.rows[index].output = Path(ev[2])
        elif kind == "start":
            self._set_status(index, "running")
        elif kind == "progress":
            self._set_progress(index, ev[2])
        elif kind == "done":
            self.rows[index].output = Path(ev[2])
            self._set_progress(index, 1.0)
            model = getattr(getattr(self.rows[index].task, "model", None), "name", "")
            self._set_status(index, "done", f"Saved {ev[2]}", model)
        elif kind == "error":
            self._set_status(index, "error", ev[2])
        elif kind == "cancelled":
            self._set_status(index, "cancelled")

    def _on_finished(self, counts: dict | None) -> None:
        """Tidy the rows of the batch that just ended and report its totals."""
        del counts  # recounted from the rows, which also covers a cancelled or failed job
        self.job = None
        if self._refused is not None:
            for i, row in enumerate(self.rows):
                if row.task is not None and row.task.token.cancelled:
                    self._set_status(i, "cancelled")
                row.task = None
            self._update_buttons()
            self._refuse(self._refused)
            return
        batch_rows = [(i, r) for i, r in enumerate(self.rows) if r.task is not None]
        for i, row in batch_rows:
            cancelled = row.task is not None and row.task.token.cancelled
            if row.status == "running" or (row.status == "queued" and cancelled):
                # never reached, or stopped mid-way: cancelled, or queued again to retry
                self._set_status(i, "cancelled" if cancelled else "queued")
            row.task = None
        totals = {s: sum(1 for _, r in batch_rows if r.status == s)
                  for s in ("done", "error", "cancelled")}
        self.summary.setText(
            f"{totals['done']} done, {totals['error']} failed, {totals['cancelled']} cancelled.")
        self._update_buttons()
        emit(self.batchFinished, totals)

    def _on_failed(self, msg: str) -> None:
        emit(self.message, msg)
        self._on_finished(None)

    def _set_status(self, index: int, status: str, message: str = "", model: str = "") -> None:
        """``model``: which model a finished file went through, as it may vary by file."""
        row = self.rows[index]
        row.status, row.message = status, message
        item = self.table.item(index, COL_STATUS)
        if item is not None:
            item.setText(STATUS_TEXT[status])
            item.setToolTip(message)
            if status == "error":
                item.setText(f"Failed: {message}")
            elif status == "done" and model:
                item.setText(f"Done ({model})")
            item.setForeground(self.palette().color(QPalette.ColorRole.Text)
                               if status != "error" else QColor("#d32f2f"))
        if status == "running":
            self.table.scrollToItem(self.table.item(index, COL_FILE))

    def _set_progress(self, index: int, fraction: float) -> None:
        bar = self.table.cellWidget(index, COL_PROGRESS)
        if isinstance(bar, QProgressBar):
            bar.setValue(round(fraction * 100))

    # ----- options ---------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        return {
            "output_dir": self.out_dir.text().strip(),
            "naming": self.pattern.text().strip(),
            "out_format": str(self.format_combo.currentData()),
            "jpeg_quality": self.quality.value(),
            "keep_metadata": self.keep_metadata.isChecked(),
        }

    def set_options(self, output_dir: str, naming: str, out_format: str, jpeg_quality: int,
                    keep_metadata: bool) -> None:
        self.out_dir.setText(output_dir)
        self.pattern.setText(naming or "{stem}_denoised")
        idx = self.format_combo.findData(out_format)
        self.format_combo.setCurrentIndex(max(0, idx))
        self.quality.setValue(jpeg_quality)
        self.keep_metadata.setChecked(keep_metadata)

    def _format_changed(self) -> None:
        self.quality.setVisible(self.format_combo.currentData() in ("jpeg", "same"))

    def _choose_out_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text())
        if d:
            self.out_dir.setText(d)

    def _add_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder to the batch")
        if d:
            self.add_paths([d])

    def _update_buttons(self) -> None:
        running = self.job is not None
        has_queued = any(r.status == "queued" for r in self.rows)
        self.start_btn.setEnabled(not running and has_queued)
        self.cancel_all_btn.setEnabled(running or has_queued or bool(self.collecting))
        self.cancel_sel_btn.setEnabled(running or has_queued)
        self.clear_btn.setEnabled(not running and bool(self.rows))
