"""Training: the one loop (``loop``), the K >= 1 model representations it runs on
(``models``), which runs may stack (``stacking``) and what it measures and writes (``measure``)."""
