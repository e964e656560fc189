"""Rendering regional reports: HTML (charts, tables, national sections) in five languages,
the tidy HXL CSV, an XLSX workbook, a PDF through headless Chromium, and trends."""

from vanfed.report._html import render_html
from vanfed.report._labels import LANGUAGES, Labels, load_labels
from vanfed.report._pdf import find_chromium, render_pdf
from vanfed.report._table_csv import render_csv
from vanfed.report._trends import render_trends
from vanfed.report._xlsx import render_xlsx, workbook_values

__all__ = [
    "LANGUAGES",
    "Labels",
    "find_chromium",
    "load_labels",
    "render_csv",
    "render_html",
    "render_pdf",
    "render_trends",
    "render_xlsx",
    "workbook_values",
]
