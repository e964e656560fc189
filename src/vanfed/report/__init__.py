"""Rendering regional reports: CSV with an HXL hashtag row, and a self-contained HTML page."""

from vanfed.report._html import render_html
from vanfed.report._table_csv import render_csv

__all__ = ["render_csv", "render_html"]
