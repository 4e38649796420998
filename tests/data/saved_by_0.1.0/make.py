"""Write the files of tests/data/saved_by_0.1.0 with the library as it was before the redesign."""

import sys
from pathlib import Path

import wideDIP
from wideDIP import Config

out = Path(sys.argv[1])
base = Config(m=3, n=6, d=4, k=5, seeds=2, steps=30, step_size=0.5)
wideDIP.simulate(base.replace(noise=0.1, track_ntk=True), progress=False).save(
    out / "simulation.npz", reconstructions=True, operator_matrix=True
)
wideDIP.simulate(base.replace(method="flow", solver="tsit5"), progress=False).save(out / "flow.npz")
wideDIP.compare(base, step_sizes=(0.5, 0.25), progress=False).save(out / "comparison.npz")
wideDIP.sweep(base, {"k": [5, 9]}, out / "sweep", progress=False)
