"""The benchmark (`make bench`) and its data generator, outside the product apps: `generate` writes the data set
(bulk writer in `loader`), `run` measures the pages, bulk actions, snapshot, export and load (`probes`, `server`,
`results`). Entry point: `python -m tests.bench generate|run [options]` (see `__main__`)."""
