"""Network-scale claims of Zhou et al. 2019, "Deconstructing Lottery Tickets: Zeros, Signs,
and the Supermask" (spec ``zhou.md`` §8, claims 4-12), checked through the named experiments
``zhou-criteria``, ``zhou-supermask`` and ``zhou-learned-mask`` (docs/zhou.md)."""
