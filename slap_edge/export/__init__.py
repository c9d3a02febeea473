"""export stage of slap-edge: from a trained run to what a kiosk runs.

- `slap_edge.export.onnx`: audio tower (raw waveform in, front end inside) and text tower to ONNX, with metadata
  and a cosine check against PyTorch;
- `slap_edge.export.quantize`: ONNX Runtime int8 (dynamic MatMul/Gemm, static QDQ convolutions, front end float)
  and torchao int8 for PyTorch deployments;
- `slap_edge.export.bundle_writer`: the bundle writer (spec/bundle.md), verified with the kiosk's own reader;
- `slap_edge.export.card`: the model card (written at export, sections appended after) and the bundle's record;
- `slap_edge.export.tensorrt`: TensorRT compatibility check (anywhere) and engine builds (where tensorrt imports).

Importing this package imports neither torch nor onnx; the modules import them where needed.
"""
