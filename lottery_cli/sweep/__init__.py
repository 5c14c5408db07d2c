"""``lottery sweep SPEC.toml``: methods × seeds × settings expanded into ``lottery run``
command lines (:mod:`.spec`), each run's standing read from its folder (:mod:`.state`), and
the missing ones executed locally or on a Ray cluster (:mod:`.execute`). docs/sweep.md."""
