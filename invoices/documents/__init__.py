"""The invoice document: the stored XML parsed into a view model and rendered (HTML, PDF)."""
