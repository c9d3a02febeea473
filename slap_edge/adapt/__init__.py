"""Site adaptation: a few labelled clips at the kiosk turn prompt sections into calibrated linear heads.

- `slap_edge.adapt.logistic`  the maths: a regularised softmax regression pulled toward a prior (numpy only)
- `slap_edge.adapt.heads`     the heads file (plain-array ``.npz``) that the runtime and the eval read
- `slap_edge.adapt.examples`  reading labelled examples (folders, a CSV, or an eval suite) with named errors
- `slap_edge.adapt.fit`       speaker-grouped cross-validation, calibration, and the fitted heads
- `slap_edge.adapt.cli`       `slap-edge adapt`

Nothing here imports torch or scikit-learn; this package file imports nothing, so the runtime can load a heads file
without the fitting code.
"""
