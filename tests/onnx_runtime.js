// Runs an ONNX model in ONNX Runtime (onnxruntime-node) for tests/onnx_export_test.py:
//   node onnx_runtime.js ORT_DIR MODEL.onnx X.bin ROWS COLS OUT.json
// X.bin holds ROWS x COLS float32 values (row-major) fed as 'input'; OUT.json gets every output
// as {name: {dims, data}} (int64 labels as numbers, strings as strings).
const fs = require('fs');
const path = require('path');
const [ortDir, model, xPath, rows, cols, outPath] = process.argv.slice(2);
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));

(async () => {
  const session = await ort.InferenceSession.create(model);
  const bytes = fs.readFileSync(xPath);
  const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const results = await session.run({input: new ort.Tensor('float32', x, [+rows, +cols])});
  const out = {};
  for (const [name, t] of Object.entries(results))
    out[name] = {dims: t.dims, data: Array.from(t.data, v => (typeof v === 'bigint' ? Number(v) : v))};
  fs.writeFileSync(outPath, JSON.stringify(out));
})().catch(e => {
  console.error(String(e));
  process.exit(1);
});
